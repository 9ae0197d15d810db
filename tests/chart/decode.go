package chart

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// Object is one decoded Kubernetes manifest.
type Object struct {
	Source     string // helm's "# Source: <chart>/templates/x.yaml" comment, if any
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	Raw        []byte // the YAML document
	Obj        any    // pointer to the typed k8s.io/api struct
}

// ID is "Kind/name" for messages.
func (o Object) ID() string { return o.Kind + "/" + o.Name }

// knownKinds maps apiVersion/kind to a constructor of its typed struct. A kind
// not listed here fails decoding: add it deliberately, with its typed struct.
var knownKinds = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1/Pod":                                  func() any { return &corev1.Pod{} },
	"v1/PersistentVolumeClaim":                func() any { return &corev1.PersistentVolumeClaim{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"gateway.networking.k8s.io/v1/HTTPRoute":  func() any { return &gatewayv1.HTTPRoute{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PodMonitor":     func() any { return &monitoringv1.PodMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

// SplitDocuments splits a multi-document YAML stream on "---" lines and drops
// documents that hold only comments or whitespace.
func SplitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.Bytes()) {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimRight(line, " \t") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for _, l := range strings.Split(string(doc), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

// DecodeStrict decodes one YAML document into its typed k8s.io/api struct.
// Unknown or misspelled fields, duplicate keys and wrong types are errors.
func DecodeStrict(doc []byte) (Object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return Object{}, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	o := Object{APIVersion: head.APIVersion, Kind: head.Kind, Name: head.Metadata.Name, Namespace: head.Metadata.Namespace, Raw: doc}
	for _, l := range strings.Split(string(doc), "\n") {
		if s, ok := strings.CutPrefix(l, "# Source: "); ok {
			o.Source = s
			break
		}
	}
	newObj, ok := knownKinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		return o, fmt.Errorf("%s %q: apiVersion/kind %s/%s has no typed decoder", o.Source, o.Name, head.APIVersion, head.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return o, fmt.Errorf("%s %s/%s: strict decode: %w", o.Source, head.Kind, o.Name, err)
	}
	o.Obj = obj
	return o, nil
}

// DecodeManifests splits and strictly decodes every document of a stream.
func DecodeManifests(data []byte) ([]Object, error) {
	var out []Object
	var errs []string
	for _, doc := range SplitDocuments(data) {
		o, err := DecodeStrict(doc)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, o)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%d document(s) failed to decode:\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
	return out, nil
}
