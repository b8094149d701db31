package directory

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// AuditAnchorCN names the entry, under Policies, that holds the audit
// log's last anchored head: a copy of the chain's state outside the file,
// so that a log cut short (its tail deleted) is detectable from the
// directory, which an attacker on the ldapsync host cannot rewrite with
// the file.
const AuditAnchorCN = "ldapsync-audit-anchor"

// AuditAnchorDN returns the anchor entry's DN.
func (c Config) AuditAnchorDN() string { return c.PolicyDN(AuditAnchorCN) }

// WriteAuditAnchor records that the audit log's record seq has hash head:
// the entry's description becomes "seq=<seq> head=<head>". The entry is
// created when missing. A lower seq than the one recorded is refused: the
// anchor only moves forward.
func (c *Client) WriteAuditAnchor(ctx context.Context, seq uint64, head string) error {
	dn := c.cfg.AuditAnchorDN()
	value := "seq=" + strconv.FormatUint(seq, 10) + " head=" + head
	old, _, ok, err := c.ReadAuditAnchor(ctx)
	if err != nil {
		return err
	}
	if !ok {
		req := ldap.NewAddRequest(dn, nil)
		req.Attribute("objectClass", []string{"device"})
		req.Attribute("cn", []string{AuditAnchorCN})
		req.Attribute("description", []string{value})
		err := c.do(ctx, "add", dn, func(conn ldap.Client) error { return conn.Add(req) })
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return err
		}
	}
	if ok && seq < old {
		return fmt.Errorf("directory: audit anchor: record %d is before the anchored %d", seq, old)
	}
	mod := ldap.NewModifyRequest(dn, nil)
	mod.Replace("description", []string{value})
	return c.do(ctx, "modify", dn, func(conn ldap.Client) error { return conn.Modify(mod) })
}

// ReadAuditAnchor returns the anchored record's seq and head; ok is false
// when no anchor was written yet.
func (c *Client) ReadAuditAnchor(ctx context.Context) (seq uint64, head string, ok bool, err error) {
	e, err := c.read(ctx, c.cfg.AuditAnchorDN(), []string{"description"})
	if err != nil || e == nil {
		return 0, "", false, err
	}
	for _, f := range strings.Fields(e.GetEqualFoldAttributeValue("description")) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "seq":
			seq, err = strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, "", false, fmt.Errorf("directory: audit anchor %q: %w", e.GetEqualFoldAttributeValue("description"), err)
			}
		case "head":
			head = v
		}
	}
	return seq, head, head != "", nil
}
