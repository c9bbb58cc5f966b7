"""Which AWS actions only read.

An action is read-only when its name starts with a reading verb (`s3:GetObject`,
`ec2:DescribeInstances`, `dynamodb:Query`), or when AWS itself lists it as read-only in the managed
policy ReadOnlyAccess although its verb is not one of those (`logs:StartQuery`, `sqs:ReceiveMessage`).
Everything else writes: `s3:*` on a bucket writes, `s3:Get*` does not.

Reading secrets (`secretsmanager:GetSecretValue`, `ssm:GetParameter`) counts as reading here: the
power scale is about changing the estate.
"""

from __future__ import annotations

from functools import lru_cache

from .iam_patterns import Pattern, compile_pattern, contains, literal_prefix, matches

READ_VERBS = (
    "batchget",
    "describe",
    "get",
    "head",
    "list",
    "lookup",
    "query",
    "scan",
    "search",
    "select",
    "view",
)

# Entries of the AWS managed policy ReadOnlyAccess (version v190) whose verb is not in READ_VERBS.
READ_ONLY_EXTRA = (
    "access-analyzer:ValidatePolicy",
    "agent-registry:InvokeRegistryMcp",
    "aiops:ValidateInvestigationGroup",
    "appsync:EvaluateMappingTemplate",
    "aps:PreviewAnomalyDetector",
    "athena:Batch*",
    "auditmanager:ValidateAssessmentReportIntegrity",
    "bedrock-agentcore:RetrieveMemoryRecords",
    "bedrock:AgenticRetrieveStream",
    "bedrock:CheckIngestedDocumentAcl",
    "bedrock:CountTokens",
    "bedrock-mantle:CallWithBearerToken",
    "chime:Retrieve*",
    "chime:Validate*",
    "cleanrooms:PreviewPrivacyImpact",
    "clouddirectory:BatchRead",
    "cloudformation:BatchDescribeTypeConfigurations",
    "cloudformation:Detect*",
    "cloudformation:Estimate*",
    "cloudformation:ValidateTemplate",
    "cloudwatch:GenerateQuery",
    "cloudwatch:GenerateQueryResultsSummary",
    "codeartifact:ReadFromRepository",
    "codecommit:GitPull",
    "codestar:Verify*",
    "cognito-idp:AdminGet*",
    "cognito-idp:AdminList*",
    "comprehend:BatchDetect*",
    "comprehend:Classify*",
    "comprehend:Contains*",
    "comprehend:Detect*",
    "config:Deliver*",
    "datapipeline:EvaluateExpression",
    "datapipeline:Validate*",
    "devops-guru:StartCostEstimation",
    "dms:Test*",
    "ds:Check*",
    "ds:Verify*",
    "dynamodb:PartiQLSelect",
    "dynamodb:ReadDataForReplication",
    "ecr-public:BatchCheckLayerAvailability",
    "ecr:BatchCheck*",
    "eks:AccessKubernetesApi",
    "elasticbeanstalk:Check*",
    "elasticbeanstalk:Request*",
    "elasticbeanstalk:Retrieve*",
    "elasticbeanstalk:Validate*",
    "elastictranscoder:Read*",
    "elemental-inference:ExportDictionaryEntries",
    "es:ESHttpGet",
    "es:ESHttpHead",
    "events:Test*",
    "evidently:TestSegmentPattern",
    "gamelift:ResolveAlias",
    "glue:CheckSchemaVersionValidity",
    "healthlake:ReadResource",
    "iam:Generate*",
    "iam:Simulate*",
    "identitystore:IsMemberInGroups",
    "inspector:Preview*",
    "iotanalytics:SampleChannelData",
    "kinesisanalytics:Discover*",
    "lightsail:Is*",
    "logs:FilterLogEvents",
    "logs:StartLiveTail",
    "logs:StartQuery",
    "logs:StopLiveTail",
    "logs:StopQuery",
    "logs:TestMetricFilter",
    "mediaconnect:DiscoverGatewayPollEndpoint",
    "mediaconvert:Probe",
    "observabilityadmin:TestTelemetryPipeline",
    "observabilityadmin:ValidateTelemetryPipelineConfiguration",
    "polly:SynthesizeSpeech",
    "rds:Download*",
    "rekognition:CompareFaces",
    "rekognition:Detect*",
    "rekognition:RecognizeCelebrities",
    "robomaker:BatchDescribe*",
    "route53:Test*",
    "route53domains:Check*",
    # ReadOnlyAccess grants it only with the condition s3express:SessionMode = ReadOnly.
    "s3express:CreateSession",
    "servicediscovery:DiscoverInstances",
    "servicediscovery:DiscoverInstancesRevision",
    "servicequotas:StartQuotaUtilizationReport",
    "sns:Check*",
    "sqs:Receive*",
    "states:ValidateStateMachineDefinition",
    "swf:Count*",
    "transfer:TestIdentityProvider",
    "verifiedpermissions:IsAuthorized",
    "verifiedpermissions:IsAuthorizedWithToken",
    "wafv2:CheckCapacity",
    "wellarchitected:ExportLens",
    "workdocs:CheckAlias",
    "xray:CancelTraceRetrieval",
    "xray:StartTraceRetrieval",
)

_EXTRA_PATTERNS = tuple(compile_pattern(extra, fold_case=True) for extra in READ_ONLY_EXTRA)

# Verbs that change things, used to build probe actions when a policy grants a wildcard.
WRITE_VERBS = (
    "abort", "accept", "add", "admincreate", "admindelete", "adminset", "adminupdate", "allocate",
    "apply", "assign", "associate", "assume", "attach", "authorize", "batchdelete", "batchput",
    "batchwrite", "cancel", "change", "complete", "copy", "create", "decrypt", "delete",
    "deregister", "detach", "disable", "disassociate", "enable", "encrypt", "execute", "import",
    "initiate", "invoke", "issue", "merge", "modify", "open", "pass", "post", "publish", "put",
    "reboot", "register", "reject", "release", "remove", "replace", "reset", "restore", "resume",
    "revoke", "rotate", "run", "send", "set", "sign", "start", "stop", "subscribe", "tag",
    "terminate", "unassign", "unsubscribe", "untag", "update", "upload", "use", "write",
)


@lru_cache(maxsize=65536)
def is_read_only(action: str) -> bool:
    """Is the concrete action `service:Name` read-only? Case-insensitive, like IAM."""
    action = action.lower()
    name = action.partition(":")[2]
    if name.startswith(READ_VERBS):
        return True
    return any(matches(extra, action) for extra in _EXTRA_PATTERNS)


def pattern_is_read_only(pattern: Pattern) -> bool:
    """Does every action the (lower-cased) pattern can match only read?"""
    if ":" in pattern:
        # Action names hold one colon, so the name is what follows the first one.
        name = pattern[pattern.index(":") + 1 :]
        if literal_prefix(name).startswith(READ_VERBS):
            return True
    return any(contains(extra, pattern) for extra in _EXTRA_PATTERNS)
