{{/* The usual fullname rule (as apps.HelmFullname implements it). */}}
{{- define "demo.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "demo.selector" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "demo.labels" -}}
{{ include "demo.selector" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* replicaCount breaks rendering on purpose when it is not a whole number, so tests can
fail an install or upgrade through values alone. The message is chartsrc.DemoBadValueError. */}}
{{- define "demo.replicas" -}}
{{- $r := toString .Values.replicaCount -}}
{{- if not (regexMatch "^[0-9]+$" $r) -}}
{{- fail (printf "demo: replicaCount must be a whole number, got %q" $r) -}}
{{- end -}}
{{- $r -}}
{{- end -}}
