package config

import (
	"fmt"
	"reflect"
)

// Name is how an operator sets the field named field (its Go name) of the
// config struct cfg points to: "SY_PING_PERIOD (-ping-period)". Validate
// methods use it so every error names the setting to fix.
func Name(cfg any, field string) string {
	t := reflect.TypeOf(cfg)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	f, ok := t.FieldByName(field)
	if !ok {
		return field
	}
	env, fl := f.Tag.Get("env"), f.Tag.Get("flag")
	switch {
	case env != "" && fl != "":
		return fmt.Sprintf("%s (-%s)", env, fl)
	case fl != "":
		return "-" + fl
	default:
		return field
	}
}

// Invalid is the error for a field whose value got breaks a rule: it
// names the setting, the value and what is wanted, e.g.
//
//	SY_LOG_LEVEL (-log-level) = "verbose": want one of debug, info, warn, error
func Invalid(cfg any, field string, got any, want string) error {
	if s, ok := got.(string); ok {
		got = fmt.Sprintf("%q", s)
	}
	return fmt.Errorf("%s = %v: %s", Name(cfg, field), got, want)
}

// fieldString is the value of a string field of cfg, by Go name.
func fieldString(cfg any, field string) string {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	return v.FieldByName(field).String()
}
