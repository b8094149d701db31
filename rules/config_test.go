package rules

import (
	"strings"
	"testing"
)

func testUnits() []*Unit {
	return []*Unit{
		{Name: "Sở Thông tin và Truyền thông", Kind: KindDepartment, Abbr: "sotttt"},
		{Name: "UBND huyện Ninh Hải", Kind: KindDistrict, Abbr: "nh"},
	}
}

func TestNew(t *testing.T) {
	c := DefaultConfig()
	c.Units = testUnits()
	r, errs := New(c, "rules")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if r.Mail("quoctrang") != "quoctrang@ninhthuan.gov.vn" || r.Location.String() != "Asia/Ho_Chi_Minh" || r.Password.MinClasses != 4 {
		t.Errorf("rules = %+v", r)
	}
	if _, ok := r.Application("eoffice"); !ok {
		t.Error("default application eoffice missing")
	}
}

func TestNew_ReportsEveryProblem(t *testing.T) {
	c := DefaultConfig()
	c.MailDomain = "Ninh Thuan"
	c.Timezone = "Asia/Nowhere"
	c.RequestFields = []string{"title", "shoe_size"}
	c.Applications = append(c.Applications, Application{Name: "mail"}, Application{Name: "Thư"})
	c.Password.Profile = "strong"
	c.Username.MaxLength = 5
	c.Username.Reserved = append(c.Username.Reserved, "sotttt")
	c.Units = testUnits()
	_, errs := New(c, "rules")
	want := []string{
		`rules.mail_domain: "Ninh Thuan" is not a lower-case domain name`,
		`rules.timezone: "Asia/Nowhere" is not a known time zone`,
		`rules.request_fields[1]: "shoe_size" is not a request field`,
		`rules.applications[4].name: "mail" is listed twice`,
		`rules.applications[5].name: "Thư" must be lower-case`,
		`rules.password.profile: "strong" is not one of the profiles (btc5, nt7)`,
		`rules.units[0]: account "sotttt" is longer than rules.username.max_length (5)`,
		`rules.units[1]: account "ubnd_nh" is longer than rules.username.max_length (5)`,
	}
	text := errs.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("problems lack %q:\n%s", w, text)
		}
	}
	c.Username.MaxLength = 64
	if _, errs := New(c, "rules"); !strings.Contains(errs.Error(), `rules.units[0]: account "sotttt" is a reserved name`) {
		t.Errorf("reserved unit account not reported:\n%v", errs)
	}
}
