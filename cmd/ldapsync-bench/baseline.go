package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/directory/slapdtest"
)

// tool finds an OpenLDAP program in PATH or the sbin directories, which an
// ordinary user's PATH often lacks.
func tool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or the sbin directories (apt-get install slapd ldap-utils)", name)
}

// runTool runs an OpenLDAP program; its error quotes the program's output.
func runTool(ctx context.Context, stdin io.Reader, stdout io.Writer, name string, args ...string) error {
	p, err := tool(name)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Stdin = stdin
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.Stdout = stdout
	if stdout == nil {
		cmd.Stdout = &errb
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tailOf(errb.String(), 2000))
	}
	return nil
}

func tailOf(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// dump writes the database of srv to an LDIF file with slapcat, as it is
// now (back-mdb lets slapcat read while slapd runs): what a clone starts
// from.
func dump(ctx context.Context, srv *slapdtest.Server, file string) error {
	return runTool(ctx, nil, nil, "slapcat", "-F", filepath.Join(srv.Dir, "slapd.d"), "-b", srv.BaseDN, "-l", file)
}

// clone starts a new harness slapd in dir (production settings: durable
// commits, the same setup) whose database is the LDIF dumped from another
// one: slapd is stopped, its database emptied and loaded with slapadd -q,
// and started again. The clone's service account is the dumped one, so it
// binds with the first server's service password.
func clone(ctx context.Context, dir, ldif string) (*slapdtest.Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	srv, err := slapdtest.Start(ctx, slapdtest.Options{Durable: true, Dir: dir})
	if err != nil {
		return nil, err
	}
	srv.Kill()
	data := filepath.Join(dir, "data")
	for _, f := range []string{"data.mdb", "lock.mdb"} {
		if err := os.Remove(filepath.Join(data, f)); err != nil && !os.IsNotExist(err) {
			srv.Stop()
			return nil, err
		}
	}
	if err := runTool(ctx, nil, nil, "slapadd", "-q", "-F", filepath.Join(dir, "slapd.d"), "-b", srv.BaseDN, "-l", ldif); err != nil {
		srv.Stop()
		return nil, err
	}
	if err := srv.StartAgain(ctx); err != nil {
		srv.Stop()
		return nil, err
	}
	return srv, nil
}

// writeLDIFValue writes one attribute line, base64 when the value is not
// a SAFE-STRING (RFC 2849): Vietnamese names are.
func writeLDIFValue(w *bufio.Writer, attr, v string) {
	safe := utf8.ValidString(v) && v != "" && v[0] != ' ' && v[0] != ':' && v[0] != '<' && v[len(v)-1] != ' '
	for i := 0; safe && i < len(v); i++ {
		if c := v[i]; c >= 0x80 || c == '\n' || c == '\r' || c == 0 {
			safe = false
		}
	}
	if v == "" {
		safe = true
	}
	if safe {
		fmt.Fprintf(w, "%s: %s\n", attr, v)
	} else {
		fmt.Fprintf(w, "%s:: %s\n", attr, base64.StdEncoding.EncodeToString([]byte(v)))
	}
}

// randomPassword is a first password as ldapsync would make one: 14
// characters of every class.
func randomPassword() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return "Aa1#" + s.String()
}

// lowerBoundLDIF writes, for the adds of people among reqs, the LDIF
// ldapadd sends (the attributes ldapsync's add carries, and a first
// password in clear with pwdReset: TRUE, which slapd hashes under
// ppolicy_hash_cleartext) in slices, one per connection, and the LDIF of
// one modify per group adding all the members ldapsync's group changes
// added. It returns the files and the number of people.
func lowerBoundLDIF(dir, people string, reqs []any, slices int) (adds []string, groups string, n int, err error) {
	people = strings.ToLower(people)
	var ws []*bufio.Writer
	var fs []*os.File
	for i := range slices {
		f, err := os.Create(filepath.Join(dir, "lower-bound-adds-"+strconv.Itoa(i)+".ldif"))
		if err != nil {
			return nil, "", 0, err
		}
		defer f.Close()
		fs = append(fs, f)
		ws = append(ws, bufio.NewWriter(f))
		adds = append(adds, f.Name())
	}
	members := map[string][]string{}
	var order []string
	for _, q := range reqs {
		switch q := q.(type) {
		case *ldap.AddRequest:
			if !strings.HasSuffix(strings.ToLower(q.DN), ","+people) {
				continue
			}
			w := ws[n%slices]
			n++
			writeLDIFValue(w, "dn", q.DN)
			for _, a := range q.Attributes {
				switch strings.ToLower(a.Type) {
				case "userpassword", "pwdreset":
					continue
				}
				for _, v := range a.Vals {
					writeLDIFValue(w, a.Type, v)
				}
			}
			writeLDIFValue(w, "userPassword", randomPassword())
			writeLDIFValue(w, "pwdReset", "TRUE")
			w.WriteString("\n")
		case *ldap.ModifyRequest:
			for _, c := range q.Changes {
				if c.Operation != ldap.AddAttribute || !strings.EqualFold(c.Modification.Type, "member") {
					continue
				}
				if _, ok := members[q.DN]; !ok {
					order = append(order, q.DN)
				}
				members[q.DN] = append(members[q.DN], c.Modification.Vals...)
			}
		}
	}
	for i, w := range ws {
		if err := w.Flush(); err != nil {
			return nil, "", 0, err
		}
		if err := fs[i].Close(); err != nil {
			return nil, "", 0, err
		}
	}
	groups = filepath.Join(dir, "lower-bound-groups.ldif")
	f, err := os.Create(groups)
	if err != nil {
		return nil, "", 0, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, g := range order {
		writeLDIFValue(w, "dn", g)
		w.WriteString("changetype: modify\nadd: member\n")
		for _, m := range members[g] {
			writeLDIFValue(w, "member", m)
		}
		w.WriteString("-\n\n")
	}
	if err := w.Flush(); err != nil {
		return nil, "", 0, err
	}
	return adds, groups, n, f.Close()
}

// lowerBound runs the lower bound of an initial load on t: P ldapadd -c
// processes at once, each sending its slice of the adds over its one
// connection, then one ldapmodify sending each group's modify, all as the
// service account. It returns the time the adds took and the time the
// group modifies took.
func lowerBound(ctx context.Context, t replayTarget, adds []string, groups string) (time.Duration, time.Duration, error) {
	auth := []string{"-x", "-H", t.URL, "-D", t.BindDN, "-y", t.PasswordFile}
	start := time.Now()
	var wg gosync.WaitGroup
	errs := make([]error, len(adds))
	for i, f := range adds {
		wg.Go(func() {
			errs[i] = runTool(ctx, nil, io.Discard, "ldapadd", append(append([]string{"-c"}, auth...), "-f", f)...)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, 0, err
		}
	}
	addsTook := time.Since(start)
	start = time.Now()
	if err := runTool(ctx, nil, io.Discard, "ldapmodify", append(auth, "-f", groups)...); err != nil {
		return 0, 0, err
	}
	return addsTook, time.Since(start), nil
}

// ldapsearchAll runs each search with the ldapsearch program, paged where
// ldapsync paged it (with its page size), asking for the same attributes,
// one after the other as ldapsync sent them, as the service account. It
// returns the time taken.
func ldapsearchAll(ctx context.Context, url, bindDN, passwordFile string, searches []*ldap.SearchRequest) (time.Duration, error) {
	start := time.Now()
	for _, s := range searches {
		args := []string{"-x", "-LLL", "-o", "ldif_wrap=no", "-H", url, "-D", bindDN, "-y", passwordFile, "-b", s.BaseDN,
			"-s", [...]string{"base", "one", "sub", "children"}[s.Scope]}
		for _, ctl := range s.Controls {
			if p, ok := ctl.(*ldap.ControlPaging); ok {
				args = append(args, "-E", fmt.Sprintf("pr=%d/noprompt", p.PagingSize))
			}
		}
		args = append(args, s.Filter)
		args = append(args, s.Attributes...)
		if err := runTool(ctx, nil, io.Discard, "ldapsearch", args...); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
