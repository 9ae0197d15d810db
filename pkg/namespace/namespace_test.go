package namespace

import "testing"

func TestNames(t *testing.T) {
	t.Cleanup(func() { _ = Set("") })
	if Subject("sy.in.>") != "sy.in.>" || Stream("SY_IN") != "SY_IN" || Key("sy:pods") != "sy:pods" || Name() != "" {
		t.Fatalf("default namespace must keep names unchanged")
	}
	if err := Set("blue-1"); err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		Subject("sy.in.>"): "blue-1.sy.in.>", Stream("SY_IN"): "blue-1_SY_IN", Stream("sy_sessions"): "blue-1_sy_sessions",
		Key("sy:pods"): "blue-1:sy:pods", SubjectPrefix(): "blue-1.", Name(): "blue-1",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if err := Set(""); err != nil || Subject("x") != "x" {
		t.Fatalf("back to the default: %v %q", err, Subject("x"))
	}
}

func TestCheck(t *testing.T) {
	for _, bad := range []string{"a.b", "a b", "a*", ">", "ns/x", "ä", "0123456789012345678901234567890123"} {
		if Check(bad) == nil {
			t.Errorf("Check(%q) accepted", bad)
		}
		if Set(bad) == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	for _, good := range []string{"", "blue", "Team_2", "a-b"} {
		if err := Check(good); err != nil {
			t.Errorf("Check(%q): %v", good, err)
		}
	}
}
