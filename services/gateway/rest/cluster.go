package rest

import (
	"net/http"
	"sort"
	"strings"

	"github.com/switchyard-hub/switchyard/pkg/errcode"
)

// ClusterView is the answer of GET /v1/cluster (admin): the gateway pods
// with a fresh ownership heartbeat and their sockets by dialect. The web
// console's cluster view reads it (docs/protocol-notes.md, "Console").
type ClusterView struct {
	// Pod is the gateway that answered.
	Pod  string    `json:"pod"`
	Pods []PodView `json:"pods"`
}

// PodView is one gateway pod.
type PodView struct {
	Pod      string         `json:"pod"`
	Sockets  int            `json:"sockets"`
	Dialects map[string]int `json:"dialects"`
}

// cluster lists the pods of the ownership records and counts each pod's
// sockets by the dialect label of its connection records.
func (a *api) cluster(w http.ResponseWriter, r *http.Request, _ string) {
	ctx := r.Context()
	owners := a.s.Owners()
	pods, err := owners.Pods(ctx, a.s.Config().OwnerTTL)
	if err != nil {
		WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
		return
	}
	out := ClusterView{Pod: a.s.Pod(), Pods: make([]PodView, 0, len(pods))}
	for _, pod := range pods {
		conns, err := owners.Conns(ctx, pod)
		if err != nil {
			WriteError(w, http.StatusServiceUnavailable, errcode.Unavailable, err.Error())
			return
		}
		pv := PodView{Pod: pod, Sockets: len(conns), Dialects: map[string]int{}}
		for _, info := range conns {
			dialect, _, _ := strings.Cut(info, " ")
			pv.Dialects[dialect]++
		}
		out.Pods = append(out.Pods, pv)
	}
	sort.Slice(out.Pods, func(a, b int) bool { return out.Pods[a].Pod < out.Pods[b].Pod })
	WriteJSON(w, http.StatusOK, out)
}
