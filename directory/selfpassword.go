package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/ldapsync/ldapsync/internal/secret"
)

// ErrPasswordExpired is a bind refused because the password is past
// pwdMaxAge and no grace login is left: the password was right, but only
// an operator's restore gives the account a new one.
var ErrPasswordExpired = errors.New("password expired")

// Reasons a directory gives for refusing a new password, in
// PasswordRefusedError.Reason. They are ppolicy's (draft-behera) errors,
// which slapd also says in its diagnostic text.
const (
	// RefusedTooShort: shorter than pwdMinLength (passwordTooShort).
	RefusedTooShort = "too_short"
	// RefusedInHistory: the current password or one of the last
	// pwdInHistory (passwordInHistory).
	RefusedInHistory = "in_history"
	// RefusedQuality: a password slapd cannot check or that its quality
	// module refuses (insufficientPasswordQuality).
	RefusedQuality = "quality"
	// RefusedTooYoung: changed again before pwdMinAge (passwordTooYoung).
	RefusedTooYoung = "too_young"
	// RefusedNotAllowed: the policy or the access rules do not let users
	// change their own password (passwordModNotAllowed, insufficient
	// access).
	RefusedNotAllowed = "not_allowed"
	// RefusedOther: any other constraint the directory names.
	RefusedOther = "other"
)

// PasswordRefusedError is a new password the directory refused: the
// current one was right, and stays. Its text names the rule, never a
// password.
type PasswordRefusedError struct {
	// DN is the account's entry.
	DN string
	// Reason is one of the Refused constants.
	Reason string
}

func (e *PasswordRefusedError) Error() string {
	return fmt.Sprintf("directory: change password of %q: the directory refused the new password (%s)", e.DN, e.Reason)
}

// ppolicyReasons maps the ppolicy response control's errors on a Password
// Modify to reasons. slapd's text alone does not tell them apart: it says
// "Password fails quality checking policy" for a password too short.
var ppolicyReasons = map[int8]string{
	ldap.BeheraPasswordTooShort:            RefusedTooShort,
	ldap.BeheraPasswordInHistory:           RefusedInHistory,
	ldap.BeheraInsufficientPasswordQuality: RefusedQuality,
	ldap.BeheraPasswordTooYoung:            RefusedTooYoung,
	ldap.BeheraPasswordModNotAllowed:       RefusedNotAllowed,
	ldap.BeheraMustSupplyOldPassword:       RefusedNotAllowed,
}

// refusalReason returns the reason of a refused Password Modify: from the
// ppolicy response control the answer carries, else from slapd's text.
func refusalReason(err error) string {
	if c := responsePPolicy(err); c != nil {
		if r, ok := ppolicyReasons[c.Error]; ok {
			return r
		}
	}
	text := err.Error()
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return RefusedNotAllowed
	case strings.Contains(text, passwordUnchanged), strings.Contains(text, "in history"):
		return RefusedInHistory
	case strings.Contains(text, "too short"):
		return RefusedTooShort
	case strings.Contains(text, "too young"):
		return RefusedTooYoung
	case strings.Contains(text, "quality"):
		return RefusedQuality
	}
	return RefusedOther
}

// responsePPolicy returns the ppolicy response control of the answer err
// was made from, nil when it has none. go-ldap returns no controls with an
// error, but keeps the answer's packet (the request, and so no password,
// is not in it).
func responsePPolicy(err error) *ldap.ControlBeheraPasswordPolicy {
	var le *ldap.Error
	if !errors.As(err, &le) || le.Packet == nil || len(le.Packet.Children) < 3 {
		return nil
	}
	for _, child := range le.Packet.Children[2].Children {
		c, err := ldap.DecodeControl(child)
		if err != nil {
			continue
		}
		if pp, ok := c.(*ldap.ControlBeheraPasswordPolicy); ok {
			return pp
		}
	}
	return nil
}

// passwordModifyOID names the Password Modify extended operation (RFC 3062).
const passwordModifyOID = "1.3.6.1.4.1.4203.1.11.1"

// ownPasswordModify is the user's own Password Modify request: no
// userIdentity (the connection's user), the old and the new password,
// with the ppolicy request control so that a refusal says which rule.
// go-ldap's PasswordModify sends no controls.
func ownPasswordModify(old, new secret.Secret) *ldap.ExtendedRequest {
	v := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Password Modify Request")
	v.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 1, old.Reveal(), "Old Password"))
	v.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 2, new.Reveal(), "New Password"))
	req := ldap.NewExtendedRequest(passwordModifyOID, v)
	req.Controls = []ldap.Control{ldap.NewControlBeheraPasswordPolicy()}
	return req
}

// ChangeOwnPassword changes the password of the account uid from current
// to next as the user would: it finds the account's entry as the service
// account (under People, or adopted anywhere under the base; a revoked
// account's tombstone is not one), binds as the user with current on a
// connection of its own, with the ppolicy request control, and on that
// connection sends the user's own Password Modify (RFC 3062) with both
// passwords. slapd therefore applies everything it enforces on a user's
// change (length, history, age, lock) and clears pwdReset; the service
// account's rights play no part. ChangeOwnPassword does not check the
// profile's character classes: its caller does (rules.PasswordProfile).
//
// Errors: an unknown uid and a wrong current password are both
// ErrInvalidCredentials, so nothing tells them apart; a lock is
// ErrAccountLocked; an expired password ErrPasswordExpired; a new password
// slapd refuses a *PasswordRefusedError. A directory that cannot be
// reached wraps ErrUnavailable. No error holds a password.
func (c *Client) ChangeOwnPassword(ctx context.Context, uid string, current, next secret.Secret) error {
	if uid == "" || current.IsZero() {
		return fmt.Errorf("directory: change password of %q: %w", uid, ErrInvalidCredentials)
	}
	if next.IsZero() {
		return fmt.Errorf("directory: change password of %q: the new password is empty", uid)
	}
	dn, err := c.accountDN(ctx, uid)
	if err != nil {
		return err
	}

	// Open and bind with retries; the Password Modify itself is sent once
	// (see below).
	var conn *ldap.Conn
	var res *ldap.SimpleBindResult
	err = c.retry(ctx, "bind", dn, func() error {
		cn, err := c.open(ctx)
		if err != nil {
			return err
		}
		err = runOn(ctx, cn, func() error {
			var err error
			res, err = cn.SimpleBind(&ldap.SimpleBindRequest{
				Username: dn,
				Password: current.Reveal(),
				Controls: []ldap.Control{ldap.NewControlBeheraPasswordPolicy()},
			})
			return err
		})
		if err != nil {
			_ = cn.Close()
			return err
		}
		conn = cn
		return nil
	})
	var ppolicy *ldap.ControlBeheraPasswordPolicy
	if res != nil {
		ppolicy, _ = ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy)
	}
	switch {
	case err == nil:
	case !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return err
	case ppolicy != nil && ppolicy.Error == ldap.BeheraAccountLocked:
		return fmt.Errorf("directory: change password of %q: %w", uid, ErrAccountLocked)
	case ppolicy != nil && ppolicy.Error == ldap.BeheraPasswordExpired:
		return fmt.Errorf("directory: change password of %q: %w", uid, ErrPasswordExpired)
	default:
		// The same text as for an unknown uid (accountDN).
		return fmt.Errorf("directory: change password of %q: %w", uid, ErrInvalidCredentials)
	}
	defer conn.Close()

	// With pwdReset the bind succeeded with changeAfterReset, and slapd
	// allows this connection nothing but this request. It is not retried:
	// had a lost answer hidden a change that was made, a retry would bind
	// with the old password and report it wrong.
	err = runOn(ctx, conn, func() error {
		_, err := conn.Extended(ownPasswordModify(current, next))
		return err
	})
	switch {
	case err == nil:
		c.log.Debug().Str("dn", dn).Msg("password changed by its user")
		return nil
	case transient(err), ctx.Err() != nil:
		return fmt.Errorf("directory: change password of %q: %w: the change may or may not have been made: %w", dn, ErrUnavailable, err)
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultConstraintViolation, ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultUnwillingToPerform):
		return &PasswordRefusedError{DN: dn, Reason: refusalReason(err)}
	}
	return fmt.Errorf("directory: change password of %q: %w", dn, err)
}

// accountDN returns the DN of the account uid: a person under People, or
// an adopted entry elsewhere under the base, as Snapshot finds them. No
// such account, or more than one, is ErrInvalidCredentials, as a wrong
// password is.
func (c *Client) accountDN(ctx context.Context, uid string) (string, error) {
	read, err := c.searchPeople(ctx, "change password", eq("uid", uid), []string{"uid", "employeeNumber"})
	if err != nil {
		return "", err
	}
	var dns []string
	for _, p := range read.people {
		if !p.Revoked {
			dns = append(dns, p.DN)
		}
	}
	switch len(dns) {
	case 1:
		return dns[0], nil
	case 0:
		// The same text as for a wrong password.
		return "", fmt.Errorf("directory: change password of %q: %w", uid, ErrInvalidCredentials)
	}
	return "", fmt.Errorf("directory: change password of %q: %d accounts have this uid: %w", uid, len(dns), ErrInvalidCredentials)
}
