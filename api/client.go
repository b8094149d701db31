package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/ldapsync/ldapsync/sync"
)

// ErrNoDaemon is a control socket nobody listens on: no daemon runs, and
// the command may do the work itself.
var ErrNoDaemon = errors.New("no daemon is listening on the control socket")

// Client talks to a running daemon over its control socket.
type Client struct {
	http *http.Client
}

// Dial returns a client of the daemon listening at path, or ErrNoDaemon.
func Dial(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, errConnRefused) {
			return nil, ErrNoDaemon
		}
		return nil, fmt.Errorf("api: control socket %s: %w", path, err)
	}
	c.Close()
	return &Client{http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}, nil
}

// Submit sends an operator's action and waits for its outcome.
func (c *Client) Submit(ctx context.Context, a Action) (*sync.SubmitResult, error) {
	var res sync.SubmitResult
	return &res, c.do(ctx, http.MethodPost, "/v1/actions", a, &res)
}

// Requests returns the open requests.
func (c *Client) Requests(ctx context.Context) ([]sync.Request, error) {
	var res []sync.Request
	return res, c.do(ctx, http.MethodGet, "/v1/requests", nil, &res)
}

// Sweep runs a sweep in the daemon.
func (c *Client) Sweep(ctx context.Context, o sync.SweepOptions) (*SweepAnswer, error) {
	q := url.Values{}
	if o.DryRun {
		q.Set("dry_run", "1")
	}
	var res SweepAnswer
	return &res, c.do(ctx, http.MethodPost, "/v1/sweep?"+q.Encode(), nil, &res)
}

// Forecast asks the daemon for a forecast.
func (c *Client) Forecast(ctx context.Context, days int) (*sync.Forecast, error) {
	var res sync.Forecast
	return &res, c.do(ctx, http.MethodGet, "/v1/forecast?days="+strconv.Itoa(days), nil, &res)
}

// Holds lists the holds with status ("" for all).
func (c *Client) Holds(ctx context.Context, status string) ([]sync.Hold, error) {
	var res []sync.Hold
	return res, c.do(ctx, http.MethodGet, "/v1/holds?status="+url.QueryEscape(status), nil, &res)
}

// Decide approves or rejects a hold (verb "approve" or "reject").
func (c *Client) Decide(ctx context.Context, id, verb, by string) (*sync.Report, error) {
	var res sync.Report
	return &res, c.do(ctx, http.MethodPost, "/v1/holds/"+url.PathEscape(id)+"/"+verb, Decision{By: by}, &res)
}

// Reconcile has the daemon read the roster at path (absolute: the daemon
// reads it).
func (c *Client) Reconcile(ctx context.Context, path string) (*ReconcileAnswer, error) {
	var res ReconcileAnswer
	return &res, c.do(ctx, http.MethodPost, "/v1/reconcile?path="+url.QueryEscape(path), nil, &res)
}

// LettersDone has the daemon record the delivery of letters and remove
// them (absolute paths); it answers with the operator it recorded.
func (c *Client) LettersDone(ctx context.Context, paths []string, by string) (string, error) {
	var res Delivered
	err := c.do(ctx, http.MethodPost, "/v1/letters/done", Delivered{Paths: paths, By: by}, &res)
	return res.By, err
}

// Adopt has the daemon match the roster at path (absolute) with the
// hand-made entries and, unless dryRun, adopt the exact matches.
func (c *Client) Adopt(ctx context.Context, path string, dryRun bool, by string) (*sync.AdoptResult, error) {
	q := url.Values{"path": {path}}
	if dryRun {
		q.Set("dry_run", "1")
	}
	var res sync.AdoptResult
	return &res, c.do(ctx, http.MethodPost, "/v1/adopt?"+q.Encode(), Decision{By: by}, &res)
}

// Explain asks the daemon for the story of the account uid.
func (c *Client) Explain(ctx context.Context, uid string) (*sync.Explanation, error) {
	var res sync.Explanation
	return &res, c.do(ctx, http.MethodGet, "/v1/explain/"+url.PathEscape(uid), nil, &res)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://ldapsync"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var p problem
		if json.Unmarshal(data, &p) == nil && p.Error != "" {
			return errors.New(p.Error)
		}
		return fmt.Errorf("api: %s", resp.Status)
	}
	return json.Unmarshal(data, out)
}

// errConnRefused is a socket file left without a listener.
var errConnRefused error = syscall.ECONNREFUSED
