package selfservice

import (
	"fmt"
	"strings"
	"time"

	"github.com/ldapsync/ldapsync/directory"
	"github.com/ldapsync/ldapsync/rules"
)

// text is one message of the page, in Vietnamese, shown first, and in
// English beneath. No message ever holds a password.
type text struct{ Vi, En string }

// Outcomes of a request, logged as "outcome" and used as the keys of the
// fixed messages.
const (
	outcomeChanged     = "changed"
	outcomeCSRF        = "csrf"
	outcomeSourceLimit = "source_limited"
	outcomeUserLimit   = "username_limited"
	outcomeMissing     = "missing_fields"
	outcomeMismatch    = "mismatch"
	outcomeSame        = "same_as_current"
	outcomeRules       = "rules"
	outcomeInvalid     = "invalid_credentials"
	outcomeLocked      = "locked"
	outcomeExpired     = "expired"
	outcomeRefused     = "refused"
	outcomeUnavailable = "unavailable"
	outcomeError       = "error"
	outcomeTooLarge    = "too_large"
	outcomeBadRequest  = "bad_request"
)

// messages are the fixed messages, by outcome.
var messages = map[string]text{
	outcomeChanged: {
		"Đã đổi mật khẩu. Trong vài giây nữa, tài khoản của bạn sẽ dùng được với tất cả các ứng dụng; từ nay hãy đăng nhập bằng mật khẩu mới.",
		"Your password has been changed. Within a few seconds your account becomes active for all applications; from now on, sign in with the new password.",
	},
	outcomeCSRF: {
		"Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang rồi nhập lại.",
		"The form has expired or is not valid. Reload the page and fill it in again.",
	},
	outcomeMissing: {
		"Vui lòng nhập đủ tên đăng nhập, mật khẩu hiện tại và mật khẩu mới (hai lần).",
		"Fill in the username, the current password and the new password (twice).",
	},
	outcomeMismatch: {
		"Hai lần nhập mật khẩu mới không giống nhau.",
		"The two new passwords are not the same.",
	},
	outcomeSame: {
		"Mật khẩu mới phải khác mật khẩu hiện tại.",
		"The new password must differ from the current one.",
	},
	// A lock is answered as a wrong password: slapd says "locked"
	// whatever the password, so telling it would say the username exists.
	outcomeInvalid: {
		"Tên đăng nhập hoặc mật khẩu hiện tại không đúng. Nếu chắc chắn đã nhập đúng, có thể tài khoản đang bị khóa: liên hệ bộ phận quản trị hệ thống của đơn vị.",
		"The username or the current password is wrong. If you are sure they are right, the account may be locked: contact your unit's IT staff.",
	},
	outcomeExpired: {
		"Mật khẩu hiện tại đã hết hạn nên không dùng để đổi được nữa. Liên hệ bộ phận quản trị hệ thống của đơn vị để được cấp mật khẩu mới.",
		"The current password has expired and can no longer be used to change it. Contact your unit's IT staff for a new one.",
	},
	outcomeUnavailable: {
		"Hệ thống tạm thời không xử lý được yêu cầu. Vui lòng thử lại sau ít phút. Nếu mật khẩu mới đã đăng nhập được thì việc đổi đã thành công.",
		"The service cannot handle the request right now. Try again in a few minutes. If the new password already lets you sign in, the change was made.",
	},
	outcomeTooLarge: {
		"Yêu cầu quá lớn.",
		"The request is too large.",
	},
	outcomeBadRequest: {
		"Yêu cầu không hợp lệ. Vui lòng tải lại trang rồi nhập lại.",
		"The request is not valid. Reload the page and fill it in again.",
	},
}

// refusals are the messages for a new password the directory refused, by
// directory.PasswordRefusedError.Reason.
var refusals = map[string]text{
	directory.RefusedInHistory: {
		"Mật khẩu mới phải khác mật khẩu hiện tại và các mật khẩu đã dùng gần đây.",
		"The new password must differ from the current password and from those used recently.",
	},
	directory.RefusedQuality: {
		"Máy chủ thư mục từ chối mật khẩu mới vì không đạt yêu cầu về chất lượng.",
		"The directory refused the new password: it does not meet its quality rules.",
	},
	directory.RefusedTooYoung: {
		"Mật khẩu vừa được đổi gần đây nên chưa thể đổi lại ngay. Vui lòng thử lại sau.",
		"The password was changed too recently to be changed again yet. Try again later.",
	},
	directory.RefusedNotAllowed: {
		"Tài khoản này không được tự đổi mật khẩu. Liên hệ bộ phận quản trị hệ thống của đơn vị.",
		"This account may not change its own password. Contact your unit's IT staff.",
	},
	directory.RefusedOther: {
		"Máy chủ thư mục từ chối mật khẩu mới.",
		"The directory refused the new password.",
	},
}

// waitText says how long to wait, rounded up to whole minutes.
func waitText(d time.Duration) (vi, en string) {
	m := int((d + time.Minute - 1) / time.Minute)
	if m < 1 {
		m = 1
	}
	en = fmt.Sprintf("%d minutes", m)
	if m == 1 {
		en = "1 minute"
	}
	return fmt.Sprintf("%d phút", m), en
}

// sourceLimited says the address sent too many requests.
func sourceLimited(wait time.Duration) text {
	vi, en := waitText(wait)
	return text{
		"Có quá nhiều yêu cầu từ địa chỉ của bạn. Vui lòng thử lại sau " + vi + ".",
		"Too many requests from your address. Try again in " + en + ".",
	}
}

// userLimited says the username had too many wrong current passwords; it
// says the same of a username that does not exist.
func userLimited(wait time.Duration) text {
	vi, en := waitText(wait)
	return text{
		"Mật khẩu hiện tại của tên đăng nhập này đã bị nhập sai quá nhiều lần. Để bảo vệ tài khoản, vui lòng thử lại sau " + vi + ".",
		"The current password of this username was entered wrongly too many times. To protect the account, try again in " + en + ".",
	}
}

// Names of the character classes.
var classNames = map[string]text{
	rules.ClassUpper:   {"chữ in hoa", "an upper-case letter"},
	rules.ClassLower:   {"chữ thường", "a lower-case letter"},
	rules.ClassDigit:   {"chữ số", "a digit"},
	rules.ClassSpecial: {"ký tự đặc biệt", "a special character"},
}

// specialsText names the special characters of a profile.
func specialsText(specials string) text {
	if specials == "" {
		return text{"ký tự đặc biệt (dấu câu, ký hiệu hoặc dấu cách)", "special characters (punctuation, symbols or a space)"}
	}
	list := strings.Join(strings.Split(specials, ""), " ")
	return text{"ký tự đặc biệt (" + list + ")", "special characters (" + list + ")"}
}

// problemText says which rule of the profile a new password breaks.
func problemText(p rules.PasswordProblem) text {
	switch p.Code {
	case rules.ProblemTooShort:
		return text{
			fmt.Sprintf("Mật khẩu mới phải dài ít nhất %d ký tự.", p.MinLength),
			fmt.Sprintf("The new password must be at least %d characters long.", p.MinLength),
		}
	case rules.ProblemClasses:
		var vi, en []string
		for _, c := range p.Missing {
			vi, en = append(vi, classNames[c].Vi), append(en, classNames[c].En)
		}
		sp := specialsText(p.Specials)
		if p.Need >= 4 {
			return text{
				fmt.Sprintf("Mật khẩu mới phải có đủ chữ in hoa, chữ thường, chữ số và %s; còn thiếu: %s.", sp.Vi, strings.Join(vi, ", ")),
				fmt.Sprintf("The new password must contain upper-case letters, lower-case letters, digits and %s; it lacks %s.", sp.En, strings.Join(en, ", ")),
			}
		}
		return text{
			fmt.Sprintf("Mật khẩu mới phải có ít nhất %d trong 4 loại ký tự: chữ in hoa, chữ thường, chữ số, %s; hiện chỉ có %d loại (thiếu: %s).", p.Need, sp.Vi, p.Have, strings.Join(vi, ", ")),
			fmt.Sprintf("The new password must contain at least %d of the 4 kinds of character: upper-case letters, lower-case letters, digits, %s; it has %d (it lacks %s).", p.Need, sp.En, p.Have, strings.Join(en, ", ")),
		}
	case rules.ProblemAccountName:
		return text{
			fmt.Sprintf("Mật khẩu mới không được chứa %d ký tự liên tiếp nào của tên đăng nhập.", p.Part),
			fmt.Sprintf("The new password must not contain %d or more consecutive characters of the username.", p.Part),
		}
	}
	return text{"Mật khẩu mới không đạt yêu cầu.", "The new password does not meet the rules."}
}

// profileRules describes what a new password must be under p, for the
// form.
func profileRules(p rules.PasswordProfile) []text {
	out := []text{{
		fmt.Sprintf("Dài ít nhất %d ký tự.", p.MinLength),
		fmt.Sprintf("At least %d characters long.", p.MinLength),
	}}
	sp := specialsText(p.Specials)
	switch {
	case p.MinClasses >= 4:
		out = append(out, text{
			"Có đủ chữ in hoa, chữ thường, chữ số và " + sp.Vi + ".",
			"Contains upper-case letters, lower-case letters, digits and " + sp.En + ".",
		})
	case p.MinClasses > 0:
		out = append(out, text{
			fmt.Sprintf("Có ít nhất %d trong 4 loại: chữ in hoa, chữ thường, chữ số, %s.", p.MinClasses, sp.Vi),
			fmt.Sprintf("Contains at least %d of: upper-case letters, lower-case letters, digits, %s.", p.MinClasses, sp.En),
		})
	}
	if p.UsernamePart > 0 {
		out = append(out, text{
			fmt.Sprintf("Không chứa %d ký tự liên tiếp nào của tên đăng nhập.", p.UsernamePart),
			fmt.Sprintf("Contains no %d consecutive characters of the username.", p.UsernamePart),
		})
	}
	if p.History > 0 {
		out = append(out, text{"Khác mật khẩu hiện tại.", "Differs from the current password."})
	}
	return out
}
