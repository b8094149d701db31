package directory

import (
	"context"
	"fmt"
	"slices"

	"github.com/go-ldap/ldap/v3"
	"github.com/ldapsync/ldapsync/rules"
)

// maxValuesPerModify bounds the member values of one modify request, so a
// batch of a whole province stays well under slapd's request size limits.
const maxValuesPerModify = 1000

// ChangeGroups makes the changes with as few requests as it can: one
// modify per group and chunk of maxValuesPerModify members. back-mdb
// rewrites the whole group entry on every modify, and cn=active holds
// nearly everyone, so one request for a batch instead of one per person is
// what keeps a large batch from slowing down as the groups grow
// (BenchmarkClient_ChangeGroups).
//
// It is safe to repeat. slapd refuses a whole request when one value to
// add is there already or one to remove is gone (a replay, or a retry
// after a lost answer); that chunk is then redone one member at a time,
// each of which counts as done when it finds the member already there or
// already gone. Removing from a group that does not exist is success too.
func (c *Client) ChangeGroups(ctx context.Context, changes []rules.GroupChange) error {
	for _, ch := range changes {
		if err := c.changeGroup(ctx, ch); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) changeGroup(ctx context.Context, ch rules.GroupChange) error {
	if ch.Group == "" {
		return fmt.Errorf("directory: change group: no group named")
	}
	group := c.cfg.GroupDN(ch.Group)
	for _, op := range []struct {
		add bool
		dns []string
	}{{true, ch.Add}, {false, ch.Remove}} {
		for chunk := range slices.Chunk(op.dns, maxValuesPerModify) {
			mod := ldap.NewModifyRequest(group, nil)
			verb := "add members to"
			if op.add {
				mod.Add("member", chunk)
			} else {
				verb = "remove members from"
				mod.Delete("member", chunk)
			}
			err := c.do(ctx, verb, group, func(conn ldap.Client) error { return conn.Modify(mod) })
			switch {
			case err == nil:
				c.log.Debug().Str("dn", group).Int("members", len(chunk)).Bool("add", op.add).Msg("group changed")
			case !op.add && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
				// Leaving a group that is gone is done.
			case op.add && ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists),
				!op.add && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute):
				if err := c.changeOneByOne(ctx, group, op.add, chunk); err != nil {
					return err
				}
			default:
				return err
			}
		}
	}
	return nil
}

// changeOneByOne adds or removes members one request each, each one
// idempotent: the slow path of a replay.
func (c *Client) changeOneByOne(ctx context.Context, group string, add bool, dns []string) error {
	c.log.Debug().Str("dn", group).Int("members", len(dns)).Msg("some members already changed: one at a time")
	for _, dn := range dns {
		var err error
		if add {
			err = c.addMember(ctx, group, dn)
		} else {
			err = c.removeMember(ctx, group, dn)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
