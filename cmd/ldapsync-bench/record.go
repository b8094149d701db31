package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/directory"
)

// recorder counts the requests a directory.Client sends, reads (searches)
// and writes (everything else), and keeps them for a replay. It holds
// passwords in clear (Password Modify, a cleartext add) in memory only.
type recorder struct {
	reads, writes atomic.Int64
	mu            gosync.Mutex
	reqs          []any
}

func (r *recorder) record(req any) {
	if _, ok := req.(*ldap.SearchRequest); ok {
		r.reads.Add(1)
	} else {
		r.writes.Add(1)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
}

// recording is what one workload sent.
type recording struct {
	reqs          []any
	reads, writes int64
}

// record runs f with every request c sends recorded.
func record(c *directory.Client, f func() error) (recording, error) {
	r := &recorder{}
	c.SetRecorder(r.record)
	err := f()
	c.SetRecorder(nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	return recording{reqs: r.reqs, reads: r.reads.Load(), writes: r.writes.Load()}, err
}

// searches returns the recording's searches, in order.
func (rec recording) searches() []*ldap.SearchRequest {
	var out []*ldap.SearchRequest
	for _, q := range rec.reqs {
		if s, ok := q.(*ldap.SearchRequest); ok {
			out = append(out, s)
		}
	}
	return out
}

// writesOnly returns the recording without its searches.
func (rec recording) writesOnly() []any {
	var out []any
	for _, q := range rec.reqs {
		if _, ok := q.(*ldap.SearchRequest); !ok {
			out = append(out, q)
		}
	}
	return out
}

// target is the DN a request works on.
func target(req any) string {
	switch q := req.(type) {
	case *ldap.AddRequest:
		return q.DN
	case *ldap.ModifyRequest:
		return q.DN
	case *ldap.DelRequest:
		return q.DN
	case *ldap.ModifyDNRequest:
		return q.DN
	case *ldap.PasswordModifyRequest:
		return q.UserIdentity
	case *ldap.SearchRequest:
		return q.BaseDN
	}
	return ""
}

// replayTarget is a server to replay on, bound as account.
type replayTarget struct {
	URL, BindDN, PasswordFile string
}

// replayResult is what a replay took.
type replayResult struct {
	Elapsed time.Duration
	// Errors counts the requests the server refused, by request and
	// result ("modify: Attribute Or Value Exists"): ldapsync's own run met
	// the same refusals, which it expects and handles (a bulk group change
	// that falls back to one member at a time).
	Errors map[string]int
}

// replay sends reqs to t over conns long-lived connections, bound before
// the clock starts, in an order that keeps what ldapsync's order needed:
// the requests on one entry go in order over one connection (entries are
// dealt to the connections in turn as they first appear), and searches and
// group changes (DNs under groups) are barriers that run alone, in order,
// after everything before them, as ldapsync runs its snapshots before a
// batch's people and its group changes after them.
func replay(ctx context.Context, t replayTarget, reqs []any, conns int, groups string) (replayResult, error) {
	pw, err := os.ReadFile(t.PasswordFile)
	if err != nil {
		return replayResult{}, err
	}
	cs := make([]*ldap.Conn, conns)
	for i := range cs {
		c, err := ldap.DialURL(t.URL)
		if err != nil {
			return replayResult{}, fmt.Errorf("replay: %w", err)
		}
		defer c.Close()
		if err := c.Bind(t.BindDN, strings.TrimSpace(string(pw))); err != nil {
			return replayResult{}, fmt.Errorf("replay: bind %s: %w", t.BindDN, err)
		}
		cs[i] = c
	}
	groups = strings.ToLower(groups)
	barrier := func(req any) bool {
		if _, ok := req.(*ldap.SearchRequest); ok {
			return true
		}
		return strings.HasSuffix(strings.ToLower(target(req)), ","+groups)
	}
	var mu gosync.Mutex
	errs := map[string]int{}
	send := func(c *ldap.Conn, req any) {
		if err := sendOne(c, req); err != nil {
			key := strings.TrimPrefix(fmt.Sprintf("%T", req), "*ldap.")
			if e, ok := err.(*ldap.Error); ok {
				key += ": " + ldap.LDAPResultCodeMap[e.ResultCode]
			}
			mu.Lock()
			errs[key]++
			mu.Unlock()
		}
	}
	owner := map[string]int{}
	queues := make([][]any, conns)
	flush := func() {
		var wg gosync.WaitGroup
		for i, q := range queues {
			if len(q) == 0 {
				continue
			}
			wg.Go(func() {
				for _, req := range q {
					send(cs[i], req)
				}
			})
		}
		wg.Wait()
		for i := range queues {
			queues[i] = queues[i][:0]
		}
	}
	start := time.Now()
	for _, req := range reqs {
		if ctx.Err() != nil {
			return replayResult{}, ctx.Err()
		}
		if barrier(req) {
			flush()
			send(cs[0], req)
			continue
		}
		dn := strings.ToLower(target(req))
		i, ok := owner[dn]
		if !ok {
			i = len(owner) % conns
			owner[dn] = i
		}
		queues[i] = append(queues[i], req)
	}
	flush()
	return replayResult{Elapsed: time.Since(start), Errors: errs}, nil
}

// sendOne sends one recorded request. A paged search is sent paged again,
// with the page size ldapsync asked for, from the first page.
func sendOne(c *ldap.Conn, req any) error {
	switch q := req.(type) {
	case *ldap.AddRequest:
		return c.Add(q)
	case *ldap.ModifyRequest:
		return c.Modify(q)
	case *ldap.DelRequest:
		return c.Del(q)
	case *ldap.ModifyDNRequest:
		return c.ModifyDN(q)
	case *ldap.PasswordModifyRequest:
		_, err := c.PasswordModify(q)
		return err
	case *ldap.ExtendedRequest:
		_, err := c.Extended(q)
		return err
	case *ldap.SearchRequest:
		s := *q
		s.Controls = nil
		var size uint32
		for _, ctl := range q.Controls {
			if p, ok := ctl.(*ldap.ControlPaging); ok {
				size = p.PagingSize
				continue
			}
			s.Controls = append(s.Controls, ctl)
		}
		var err error
		if size > 0 {
			_, err = c.SearchWithPaging(&s, size)
		} else {
			_, err = c.Search(&s)
		}
		return err
	}
	return fmt.Errorf("replay: unknown request %T", req)
}
