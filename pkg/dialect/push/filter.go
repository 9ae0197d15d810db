package push

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Filter is a reader's choice of /notification types (query ?types=).
type Filter struct {
	Types NotificationType
}

// All is the default filter: every type.
var All = Filter{Types: AllTypes}

// Allows reports whether a frame of type t passes the filter; /statechange
// frames (t == 0) always pass.
func (f Filter) Allows(t NotificationType) bool { return t == 0 || f.Types&t != 0 }

// FilterError is a query the gateway refuses with HTTP 400.
type FilterError struct {
	Param, Value, Reason string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("query parameter %s=%q: %s", e.Param, e.Value, e.Reason)
}

// ParseFilter reads ?types= from a push URL's query. Values are
// comma-separated (the parameter may repeat): a type number (1, 2, 4, 8),
// a mask of them (3 = Progress and UserNotification) or a type name
// (Progress, UserNotification, AppNotification, AppUpdateProgress; any
// case). No types parameter, or only empty ones, means every type.
func ParseFilter(q url.Values) (Filter, error) {
	var mask NotificationType
	for _, v := range q["types"] {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			t, err := parseType(item)
			if err != nil {
				return Filter{}, &FilterError{Param: "types", Value: v, Reason: err.Error()}
			}
			mask |= t
		}
	}
	if mask == 0 {
		return All, nil
	}
	return Filter{Types: mask}, nil
}

func parseType(s string) (NotificationType, error) {
	for _, n := range typeNames {
		if strings.EqualFold(s, n.name) {
			return n.t, nil
		}
	}
	v, err := strconv.ParseUint(s, 10, 8)
	if err != nil || v == 0 || NotificationType(v)&^AllTypes != 0 {
		return 0, fmt.Errorf("%q is not a notification type (1, 2, 4, 8, a sum of them, or a name)", s)
	}
	return NotificationType(v), nil
}
