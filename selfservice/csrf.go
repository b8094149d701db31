package selfservice

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRF protection: a random nonce in a cookie (HttpOnly, SameSite=Strict,
// Secure over TLS), and in the form the HMAC of that nonce under a key
// drawn at start-up. A POST must bring both, and they must match: another
// site can neither read the cookie nor compute the HMAC, and a token from
// another process (a restart) does not verify.

// cookieName is the nonce's cookie; over TLS it takes the __Host- prefix,
// which browsers accept only from a secure origin, for path /, with no
// Domain: no other host or path can set it.
const (
	cookieName       = "ldapsync_csrf"
	secureCookieName = "__Host-ldapsync_csrf"
	nonceBytes       = 32
)

type csrf struct{ key []byte }

func newCSRF() *csrf {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand, Go 1.24)
	return &csrf{key: key}
}

// token returns the form's token for nonce.
func (c *csrf) token(nonce string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// valid reports, in constant time, whether token is nonce's.
func (c *csrf) valid(nonce, token string) bool {
	if nonce == "" || token == "" {
		return false
	}
	return hmac.Equal([]byte(c.token(nonce)), []byte(token))
}

// nonce returns the request's nonce, "" when it has no well-formed one.
func nonceOf(r *http.Request, secure bool) string {
	name := cookieName
	if secure {
		name = secureCookieName
	}
	ck, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(b) != nonceBytes {
		return ""
	}
	return ck.Value
}

// newNonce draws a nonce and sets it as the cookie.
func setNonce(w http.ResponseWriter, secure bool) string {
	b := make([]byte, nonceBytes)
	_, _ = rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	name := cookieName
	if secure {
		name = secureCookieName
	}
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    nonce,
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteStrictMode,
	})
	return nonce
}
