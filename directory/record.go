package directory

import "github.com/go-ldap/ldap/v3"

// Recorder is given each request the client sends on its connections, as
// the go-ldap request it is (*ldap.AddRequest, *ldap.ModifyRequest,
// *ldap.PasswordModifyRequest, *ldap.ModifyDNRequest, *ldap.DelRequest,
// *ldap.SearchRequest, *ldap.ExtendedRequest), before it is sent: the
// benchmarks replay what ldapsync sent, and count its reads and writes.
// Requests carry passwords in clear (Password Modify, a cleartext add): a
// Recorder is for measurements, never for production, and must keep what
// it holds in memory. It must be safe for concurrent use.
type Recorder func(req any)

// SetRecorder makes r see every request sent from now on; nil stops it.
func (c *Client) SetRecorder(r Recorder) {
	if r == nil {
		c.record.Store(nil)
		return
	}
	c.record.Store(&r)
}

// recording is a connection that shows each request to rec first.
type recording struct {
	ldap.Client
	rec Recorder
}

func (r recording) Add(req *ldap.AddRequest) error { r.rec(req); return r.Client.Add(req) }
func (r recording) Del(req *ldap.DelRequest) error { r.rec(req); return r.Client.Del(req) }
func (r recording) Modify(req *ldap.ModifyRequest) error {
	r.rec(req)
	return r.Client.Modify(req)
}
func (r recording) ModifyWithResult(req *ldap.ModifyRequest) (*ldap.ModifyResult, error) {
	r.rec(req)
	return r.Client.ModifyWithResult(req)
}
func (r recording) ModifyDN(req *ldap.ModifyDNRequest) error {
	r.rec(req)
	return r.Client.ModifyDN(req)
}
func (r recording) Extended(req *ldap.ExtendedRequest) (*ldap.ExtendedResponse, error) {
	r.rec(req)
	return r.Client.Extended(req)
}
func (r recording) PasswordModify(req *ldap.PasswordModifyRequest) (*ldap.PasswordModifyResult, error) {
	r.rec(req)
	return r.Client.PasswordModify(req)
}
func (r recording) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	r.rec(req)
	return r.Client.Search(req)
}
func (r recording) SearchWithPaging(req *ldap.SearchRequest, size uint32) (*ldap.SearchResult, error) {
	r.rec(req)
	return r.Client.SearchWithPaging(req, size)
}
