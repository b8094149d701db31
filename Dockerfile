# ldapsync container image: a static binary on distroless, running as
# nonroot. State (journal, audit log, inbox, letters) lives in the volume
# /var/lib/ldapsync; the config and the bind password are mounted read-only.
#
#   docker build -t ldapsync .
#   docker run -d --name ldapsync \
#     -v /srv/ldapsync/config.yaml:/etc/ldapsync/config.yaml:ro \
#     -v /srv/ldapsync/bind-password:/etc/ldapsync/bind-password:ro \
#     -v /srv/ldapsync/state:/var/lib/ldapsync \
#     ldapsync
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ldapsync ./cmd/ldapsync

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ldapsync /usr/local/bin/ldapsync
# distroless nonroot is uid 65532; the state volume must be writable by it.
USER 65532:65532
VOLUME ["/var/lib/ldapsync"]
ENV LDAPSYNC_CONFIG=/etc/ldapsync/config.yaml
# The daemon answers on its control socket in the state volume; start-up may
# wait for the directory, hence the start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=2m --retries=3 \
  CMD ["/usr/local/bin/ldapsync", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ldapsync"]
CMD ["run"]
