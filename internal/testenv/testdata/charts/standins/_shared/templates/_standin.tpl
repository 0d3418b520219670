{{/* clusterkit test stand-in helpers, shared by every catalog stand-in. */}}

{{/* fullname: apps.HelmFullname. Takes dict release, chart, values, max. */}}
{{- define "standin.fullname" -}}
{{- $vals := .values | default dict -}}
{{- $name := .chart -}}
{{- if $vals.nameOverride }}{{ $name = $vals.nameOverride }}{{ end -}}
{{- $full := printf "%s-%s" .release $name -}}
{{- if $vals.fullnameOverride -}}
{{- $full = $vals.fullnameOverride -}}
{{- else if contains $name .release -}}
{{- $full = .release -}}
{{- end -}}
{{- $full | trunc (int (.max | default 63)) | trimSuffix "-" -}}
{{- end -}}

{{/* get: the value at a dotted path of .root, as JSON {"v": ...}; "" when absent. */}}
{{- define "standin.get" -}}
{{- $cur := .root -}}
{{- if .path -}}
{{- range (splitList "." .path) -}}
{{- if kindIs "map" $cur -}}
{{- $cur = index $cur . -}}
{{- else -}}
{{- $cur = "" -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $cur = "" -}}
{{- end -}}
{{- toJson (dict "v" $cur) -}}
{{- end -}}

{{- define "standin.main" -}}
{{- include "standin.fullname" (dict "release" .Release.Name "chart" .Chart.Name "values" .Values "max" .Values.standin.fullnameMax) -}}
{{- end -}}

{{- define "standin.selector" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "standin.labels" -}}
{{ include "standin.selector" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
testenv.clusterkit.dev/stand-in: "true"
{{- end -}}
