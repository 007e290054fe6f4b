{{/* Chart name, overridable. */}}
{{- define "cloudlb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of the release's objects. A release already named after the
chart is not prefixed twice ("cloudlb", not "cloudlb-cloudlb").
*/}}
{{- define "cloudlb.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "cloudlb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change for the life of a release: the pod selector. */}}
{{- define "cloudlb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cloudlb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cloudlb.labels" -}}
helm.sh/chart: {{ include "cloudlb.chart" . }}
{{ include "cloudlb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: cloudlb
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cloudlb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cloudlb.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: a digest pins harder than a tag. */}}
{{- define "cloudlb.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "cloudlb.credentialsSecretName" -}}
{{- default (printf "%s-credentials" (include "cloudlb.fullname" .)) .Values.staticCredentials.existingSecret }}
{{- end }}

{{/* Where the GCP service-account key of the static-credentials Secret is mounted. */}}
{{- define "cloudlb.gcpKeyDir" -}}
/var/run/secrets/cloudlb/gcp
{{- end }}

{{/*
The arguments of `cloudlb run`. Values the schema accepts as empty mean "the
controller's default", so they are left out rather than passed empty.
*/}}
{{- define "cloudlb.args" -}}
- "run"
- {{ print "--provider=" (required "provider is required: set --set provider=aws or provider=gcp" .Values.provider) | quote }}
- {{ print "--cluster-name=" (required "clusterName is required: a name unique among the clusters sharing the cloud account, e.g. --set clusterName=prod" .Values.clusterName) | quote }}
{{- with .Values.loadBalancerClass }}
- {{ print "--load-balancer-class=" . | quote }}
{{- end }}
{{- if .Values.serveUnclassed }}
- "--serve-unclassed"
{{- end }}
{{- if not (kindIs "invalid" .Values.workers) }}
- {{ print "--workers=" .Values.workers | quote }}
{{- end }}
{{- if not (kindIs "invalid" .Values.resyncInterval) }}
- {{ print "--resync-interval=" .Values.resyncInterval | quote }}
{{- end }}
{{- if not (kindIs "invalid" .Values.deepResyncInterval) }}
- {{ print "--deep-resync-interval=" .Values.deepResyncInterval | quote }}
{{- end }}
{{- if not (kindIs "invalid" .Values.cloudStateRetry) }}
- {{ print "--cloud-state-retry=" .Values.cloudStateRetry | quote }}
{{- end }}
{{- if .Values.shareNamespaces }}
- {{ print "--share-namespaces=" .Values.shareNamespaces | quote }}
{{- end }}
{{- if not (kindIs "invalid" .Values.gcInterval) }}
- {{ print "--gc-interval=" .Values.gcInterval | quote }}
{{- end }}
- {{ print "--metrics-port=" .Values.metrics.port | quote }}
- {{ print "--health-port=" .Values.health.port | quote }}
{{- if .Values.leaderElection.enabled }}
- {{ print "--leader-elect-resource-name=" (include "cloudlb.leaseName" .) | quote }}
- {{ print "--leader-elect-resource-namespace=" .Release.Namespace | quote }}
- {{ print "--leader-elect-lease-duration=" .Values.leaderElection.leaseDuration | quote }}
- {{ print "--leader-elect-renew-deadline=" .Values.leaderElection.renewDeadline | quote }}
- {{ print "--leader-elect-retry-period=" .Values.leaderElection.retryPeriod | quote }}
{{- else }}
- "--leader-elect=false"
{{- end }}
- {{ print "--log-level=" .Values.logLevel | quote }}
- {{ print "--log-format=" .Values.logFormat | quote }}
{{- with .Values.cloudApiRates }}
- {{ print "--cloud-api-rates=" . | quote }}
{{- end }}
{{- if eq .Values.provider "aws" }}
{{- with .Values.aws.defaultType }}
- {{ print "--aws-default-type=" . | quote }}
{{- end }}
{{- end }}
{{- if eq .Values.provider "gcp" }}
{{- with .Values.gcp.project }}
- {{ print "--gcp-project=" . | quote }}
{{- end }}
{{- with .Values.gcp.region }}
- {{ print "--gcp-region=" . | quote }}
{{- end }}
{{- with .Values.gcp.endpoint }}
- {{ print "--gcp-endpoint=" . | quote }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The container's environment: the pod's name (the controller's leader-election
identity, so that a restarted container recognises its own Lease), cloud SDK
settings that the SDKs read themselves (boto3's AWS_REGION, Google's
Application Default Credentials), plus extraEnv.
*/}}
{{- define "cloudlb.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- if and (eq .Values.provider "aws") .Values.aws.region }}
- name: AWS_REGION
  value: {{ .Values.aws.region | quote }}
{{- end }}
{{- if and .Values.staticCredentials.enabled (eq .Values.provider "gcp") }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: {{ include "cloudlb.gcpKeyDir" . }}/key.json
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Name of the Lease the replicas compete for, in the release's namespace. */}}
{{- define "cloudlb.leaseName" -}}
{{- default (include "cloudlb.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}
