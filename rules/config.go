package rules

import (
	"regexp"
	"slices"
	"time"

	"github.com/ldapsync/ldapsync/internal/field"
)

// Config is the "rules" section of the config file. Its defaults are the
// Ninh Thuận regulation (Decision 831/QĐ-UBND).
type Config struct {
	// MailDomain is the domain of every account's address. Default
	// "ninhthuan.gov.vn" (NT Art. 2.3).
	MailDomain string `yaml:"mail_domain"`
	// Timezone is where effective dates and deadlines are reckoned. Default
	// "Asia/Ho_Chi_Minh".
	Timezone string `yaml:"timezone"`
	// Calendar is the working hours, weekends and public holidays that
	// working-time deadlines and periods ending on a day off count with.
	Calendar CalendarConfig `yaml:"calendar"`
	// Lifecycle is the departure, inactivity, restore and issue deadlines
	// (NT Art. 5-6, BTC 4).
	Lifecycle LifecycleConfig `yaml:"lifecycle"`
	// Username is the ladder's limits and reserved names.
	Username UsernameConfig `yaml:"username"`
	// Password is the password profiles.
	Password PasswordConfig `yaml:"password"`
	// RequestFields are the fields an account request must carry besides
	// the person's identity, name and unit (BTC 4). Default: title, phone,
	// applications, reply_name, reply_unit, reply_mail, reply_phone,
	// requested_by.
	RequestFields []string `yaml:"request_fields"`
	// Applications are the shared applications an account request can ask
	// for (BTC 4: "các loại tài khoản cần tạo"). Each becomes a group
	// cn=<name> under ou=groups. Default: mail, eoffice, dichvucong, baocao.
	Applications []Application `yaml:"applications"`
	// Units is the unit tree (NT Art. 4.1). No default: every province has
	// its own.
	Units []*Unit `yaml:"units"`
	// UnitChanges are the reorganisations of the unit tree: units merged,
	// renamed or split, and where their people go. Default none.
	UnitChanges []UnitChange `yaml:"unit_changes"`
}

// Application is one shared application an account can be given.
type Application struct {
	// Name is the short name used in requests and as the group's cn.
	Name string `yaml:"name"`
	// Description is the application's name for people.
	Description string `yaml:"description"`
}

// RequestFieldNames are the account request fields of BTC 4 that
// RequestFields may list.
var RequestFieldNames = []string{
	"title", "phone", "applications",
	"reply_name", "reply_unit", "reply_mail", "reply_phone", "requested_by",
}

// DefaultConfig returns the regulation's defaults.
func DefaultConfig() Config {
	return Config{
		MailDomain:    "ninhthuan.gov.vn",
		Timezone:      "Asia/Ho_Chi_Minh",
		Calendar:      DefaultCalendarConfig(),
		Lifecycle:     DefaultLifecycleConfig(),
		Username:      DefaultUsernameConfig(),
		Password:      DefaultPasswordConfig(),
		RequestFields: slices.Clone(RequestFieldNames),
		UnitChanges:   []UnitChange{},
		Applications: []Application{
			{Name: "mail", Description: "Thư điện tử công vụ"},
			{Name: "eoffice", Description: "Văn phòng điện tử"},
			{Name: "dichvucong", Description: "Dịch vụ công"},
			{Name: "baocao", Description: "Hệ thống báo cáo"},
		},
	}
}

var (
	domainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	appRE    = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
)

// Rules is a validated Config, ready for the planner: the unit tree is
// indexed, the timezone loaded, the calendar built and the active password
// profile chosen. It is immutable; a reload builds a new one.
type Rules struct {
	Config
	Units    *UnitTree
	Location *time.Location
	Calendar *Calendar
	Password PasswordProfile
	apps     map[string]Application
	// leaderTitles are Lifecycle.LeaderTitles folded for IsLeaderTitle.
	leaderTitles []string
}

// New validates c and returns the compiled rules, or every problem found,
// each named by its path under path (usually "rules").
func New(c Config, path string) (*Rules, field.List) {
	var errs field.List
	if !domainRE.MatchString(c.MailDomain) {
		errs.Add(field.Join(path, "mail_domain"), "%q is not a lower-case domain name", c.MailDomain)
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil || c.Timezone == "" {
		errs.Add(field.Join(path, "timezone"), "%q is not a known time zone", c.Timezone)
	}
	calLoc := loc
	if calLoc == nil {
		calLoc = time.UTC // reported above; the calendar is still checked
	}
	cal, cerrs := NewCalendar(c.Calendar, calLoc, field.Join(path, "calendar"))
	errs.Append(cerrs)
	errs.Append(c.Lifecycle.Validate(field.Join(path, "lifecycle")))
	errs.Append(c.Username.Validate(field.Join(path, "username")))
	errs.Append(c.Password.Validate(field.Join(path, "password")))
	for i, f := range c.RequestFields {
		if !slices.Contains(RequestFieldNames, f) {
			errs.Add(field.Index(field.Join(path, "request_fields"), i), "%q is not a request field (%v)", f, RequestFieldNames)
		}
	}
	apps := map[string]Application{}
	for i, a := range c.Applications {
		p := field.Index(field.Join(path, "applications"), i)
		if !appRE.MatchString(a.Name) {
			errs.Add(field.Join(p, "name"), "%q must be lower-case letters, digits, - or _", a.Name)
		}
		if _, dup := apps[a.Name]; dup {
			errs.Add(field.Join(p, "name"), "%q is listed twice", a.Name)
		}
		apps[a.Name] = a
	}
	if len(c.Units) == 0 {
		errs.Add(field.Join(path, "units"), "required: the unit tree, at least one unit (see config.example.yaml)")
	}
	tree, uerrs := BuildUnitTree(c.Units, field.Join(path, "units"))
	errs.Append(uerrs)
	if tree != nil {
		errs.Append(checkUnitAccounts(c.Units, c.Username, field.Join(path, "units")))
	}
	errs.Append(validateUnitChanges(c.UnitChanges, tree, field.Join(path, "unit_changes")))
	if len(errs) > 0 {
		return nil, errs
	}
	leaders := make([]string, len(c.Lifecycle.LeaderTitles))
	for i, t := range c.Lifecycle.LeaderTitles {
		leaders[i] = foldTitle(t)
	}
	return &Rules{Config: c, Units: tree, Location: loc, Calendar: cal, Password: c.Password.Active(),
		apps: apps, leaderTitles: leaders}, nil
}

// Application returns the application called name.
func (r *Rules) Application(name string) (Application, bool) {
	a, ok := r.apps[name]
	return a, ok
}

// Mail returns the mail address of an account.
func (r *Rules) Mail(username string) string {
	return username + "@" + r.MailDomain
}

// checkUnitAccounts checks what BuildUnitTree cannot know: that no unit's
// account is longer than the configured limit or is a reserved name.
func checkUnitAccounts(units []*Unit, u UsernameConfig, path string) field.List {
	var errs field.List
	for i, unit := range units {
		p := field.Index(path, i)
		switch a := unit.Account(); {
		case len(a) > u.MaxLength:
			errs.Add(p, "account %q is longer than rules.username.max_length (%d)", a, u.MaxLength)
		case slices.Contains(u.Reserved, a):
			errs.Add(p, "account %q is a reserved name (rules.username.reserved)", a)
		}
		errs.Append(checkUnitAccounts(unit.Units, u, field.Join(p, "units")))
	}
	return errs
}
