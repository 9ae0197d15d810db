package chat

import (
	"strings"
	"testing"

	"github.com/switchyard-hub/switchyard/services/gateway/edge"
)

func TestParseSettings(t *testing.T) {
	c := edge.Defaults().Chat
	c.Endpoints = []string{"user:alice=shell", "channel:ops=ops-agent"}
	c.FollowupModes = []string{"ops-agent=queue"}
	c.AttachMaxBytes = 1 << 30
	st, err := parseSettings(c, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if st.byUser["alice"] != "shell" || st.byChannel["ops"] != "ops-agent" || st.mode("ops-agent") != "queue" || st.mode("shell") != "inject" {
		t.Errorf("settings = %+v", st)
	}
	if st.attachments.MaxFileBytes != 1000 || !st.attachments.Enabled || st.attachments.MaxFiles != 10 {
		t.Errorf("attachments = %+v, want max bytes bounded by SY_MAX_FILE_BYTES", st.attachments)
	}
	for _, bad := range []func(*edge.ChatConfig){
		func(c *edge.ChatConfig) { c.Endpoints = []string{"alice=shell"} },
		func(c *edge.ChatConfig) { c.Endpoints = []string{"team:x=shell"} },
		func(c *edge.ChatConfig) { c.FollowupMode = "later" },
		func(c *edge.ChatConfig) { c.FollowupModes = []string{"shell=maybe"} },
		func(c *edge.ChatConfig) { c.AttachMaxFiles = -1 },
	} {
		c := edge.Defaults().Chat
		bad(&c)
		if _, err := parseSettings(c, 1000); err == nil || !strings.HasPrefix(err.Error(), "chat: ") {
			t.Errorf("%+v: err %v, want a named refusal", c, err)
		}
	}
}

func TestRecentDropsRepeats(t *testing.T) {
	r := newRecent(2)
	if !r.add("a") || r.add("a") || !r.add("b") || !r.add("c") {
		t.Fatal("first sightings must be new, repeats not")
	}
	if !r.add("a") { // forgotten after two newer ids
		t.Error("the ring should have forgotten a")
	}
}
