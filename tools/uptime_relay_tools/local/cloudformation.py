"""template.yaml -> plain CloudFormation (aws-sam-translator, offline) -> resources in moto.

``translate_template`` runs the SAM transform without AWS: the few managed policies SAM attaches
are given from a static map. ``create_stack`` creates the translated stack in a moto server so
the local stack holds the resources template.yaml declares (not a second hand-written copy):

* moto CloudFormation creates what it supports: the DynamoDB table, SNS topics, SQS queues and
  the KMS key (with their template properties: GSI, TTL, retention, ...).
* What moto CloudFormation cannot create (CloudWatch alarms, the Secrets Manager secret, SNS
  subscriptions; checked against moto 5.2) is created right after with plain boto3 calls, from
  the same translated properties with their intrinsic functions resolved against the stack.
* Lambda functions, layers, permissions, schedules and Function URLs are not created: the local
  stack runs the handlers in-process. Their names and environment (with every reference resolved)
  are returned, so the runner sets exactly the variables Lambda would get.
* The ``Custom::CheckAlarms`` resource is not invoked: call ``uptime_relay.alarms.reconcile``
  (as the custom resource would) with the returned topic ARN, prefix and namespace.
* The outputs are resolved here too (moto's DescribeStacks returns none for this stack) and kept
  as JSON in the SSM parameter ``/uptime-relay/local/<stack>/outputs`` of the same moto server;
  the CLI's ``--stack`` lookup reads them from there.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
CODE_BUCKET = "uptime-relay-local-code"  # CodeUri/ContentUri folders become s3://CODE_BUCKET/<folder>
ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"

# The AWS managed policies the SAM transform attaches (basic execution role, X-Ray for
# Tracing: Active, SQS for a DeadLetterQueue). Static, so translation needs no IAM call.
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for name, path in {
        "AWSLambdaBasicExecutionRole": "service-role/",
        "AWSXrayWriteOnlyAccess": "",
        "AWSXRayDaemonWriteAccess": "",
        "AWSLambdaSQSQueueExecutionRole": "service-role/",
        "AWSLambdaRole": "service-role/",
    }.items()
}

# moto's DescribeStacks has no Outputs for the local stack (they are resolved here, in Python), so
# create_stack keeps them as JSON in this SSM parameter of the same moto server, where any process
# (``uptime-relay incidents --stack NAME --endpoint-url ...``) can read them.
OUTPUTS_PARAMETER = "/uptime-relay/local/{stack}/outputs"


def outputs_parameter(stack_name: str) -> str:
    """The SSM parameter holding the local stack's resolved outputs (a JSON object)."""
    return OUTPUTS_PARAMETER.format(stack=stack_name)


# Resource types moto CloudFormation creates (and the local stack needs).
MOTO_TYPES = {"AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SQS::Queue", "AWS::KMS::Key"}
# Created with boto3 after the stack, because moto CloudFormation skips them.
DIRECT_TYPES = {
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::SecretsManager::Secret",
    "AWS::SNS::Subscription",
}


# --------------------------------------------------------------------------------------- loading
class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands the CloudFormation short forms (!Ref, !GetAtt, !Sub, ...)."""


def _construct_tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML (or JSON) file with its short-form intrinsic tags."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_CfnLoader)


def translate_template(
    template_path: str | os.PathLike[str] = "template.yaml", parameters: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Run the SAM transform offline and return the plain CloudFormation template (a dict)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = load_template(template_path)
    _code_to_s3(sam)
    translator = Translator(managed_policy_map=dict(MANAGED_POLICIES), sam_parser=Parser())
    return translator.translate(
        sam_template=sam,
        parameter_values=dict(parameters or {}),
        get_managed_policy_map=lambda: dict(MANAGED_POLICIES),
    )


def _code_to_s3(sam: dict[str, Any]) -> None:
    """Local CodeUri/ContentUri folders -> s3://CODE_BUCKET/<folder> (as `sam package` would upload)."""
    for resource in (sam.get("Resources") or {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            value = props.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                props[key] = f"s3://{CODE_BUCKET}/{value.strip('/')}"


def local_code_path(s3_location: Mapping[str, Any] | str) -> str:
    """The folder a translated Code/Content location came from ("functions/probe")."""
    if isinstance(s3_location, Mapping):
        key = s3_location.get("S3Key") or s3_location.get("Key") or ""
        return str(key)
    return str(s3_location).removeprefix(f"s3://{CODE_BUCKET}/")


# --------------------------------------------------------------------------------------- stack
@dataclass
class LocalFunction:
    """A function of the stack as the local runner runs it: in-process, with Lambda's environment."""

    logical_id: str
    name: str
    code_path: str  # e.g. "functions/probe" (relative to the template)
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int


@dataclass
class LocalStack:
    stack_name: str
    stack_id: str
    parameters: dict[str, str]
    resources: dict[str, str]  # logical id -> physical id (Ref value), for every resource
    attributes: dict[str, dict[str, str]]  # logical id -> {attribute: value} (Fn::GetAtt)
    outputs: dict[str, str]
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    # SNS -> Lambda subscriptions, not created in moto (it would try to run the function):
    # (topic ARN, function logical id). The runner delivers those messages in-process.
    lambda_subscriptions: list[tuple[str, str]] = field(default_factory=list)
    created_in_moto_cloudformation: tuple[str, ...] = ()
    created_directly: tuple[str, ...] = ()

    def output(self, name: str) -> str:
        return self.outputs[name]

    def function(self, short: str) -> LocalFunction:
        """``function("relay")`` -> the RelayFunction entry (matches logical id or name suffix)."""
        for f in self.functions.values():
            if f.logical_id.lower() in (short.lower(), f"{short.lower()}function") or f.name.endswith(
                f"-{short}"
            ):
                return f
        raise KeyError(short)


class _NoValue:
    pass


NO_VALUE = _NoValue()


class _Resolver:
    def __init__(self, params: dict[str, Any], conditions: dict[str, Any], stack: LocalStack):
        self.params = params
        self.condition_defs = conditions
        self.stack = stack
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.condition_defs[name]))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        if name in self.stack.resources:
            return self.stack.resources[name]
        raise KeyError(f"Ref to unknown or not yet created {name!r}")

    def getatt(self, resource: str, attribute: str) -> Any:
        try:
            return self.stack.attributes[resource][attribute]
        except KeyError:
            raise KeyError(f"Fn::GetAtt {resource}.{attribute} is not known locally") from None

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".")[0] not in self.params:
                res, _, att = name.partition(".")
                return str(self.getatt(res, att))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", repl, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                res, att = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(res, att)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, variables = arg
                return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(i) for i in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Fn::ToJsonString":
                return json.dumps(self.resolve(arg))
        out = {}
        for k, v in value.items():
            resolved = self.resolve(v)
            if resolved is not NO_VALUE:
                out[k] = resolved
        return out


def _param_values(template: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if "Default" in spec:
            values[name] = str(spec["Default"])
    for name, value in (overrides or {}).items():
        if name not in (template.get("Parameters") or {}):
            raise ValueError(f"template has no parameter {name!r}")
        values[name] = str(value)
    missing = [n for n in (template.get("Parameters") or {}) if n not in values]
    if missing:
        raise ValueError(f"parameters without a value: {', '.join(missing)}")
    return values


def _generate_secret(spec: Mapping[str, Any]) -> str:
    length = int(spec.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    value = "".join(secrets.choice(alphabet) for _ in range(length))
    template = spec.get("SecretStringTemplate")
    if template and spec.get("GenerateStringKey"):
        data = json.loads(template)
        data[spec["GenerateStringKey"]] = value
        return json.dumps(data)
    return value


def _wait_created(cfn_client: Any, stack_name: str, timeout_s: float = 60.0) -> None:
    """moto creates synchronously; poll briefly instead of the 5 s boto3 waiter delay."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        status = cfn_client.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
        if status == "CREATE_COMPLETE":
            return
        if status.endswith(("FAILED", "ROLLBACK_COMPLETE")) or time.monotonic() > deadline:
            raise RuntimeError(f"local stack {stack_name} not created: {status}")
        time.sleep(0.05)


def create_stack(
    cfn_client: Any,
    template_dict: dict[str, Any],
    stack_name: str = "uptime-relay-local",
    parameters: Mapping[str, Any] | None = None,
    *,
    clients: Any = None,
    actions_url: str | None = None,
) -> LocalStack:
    """Create the translated template in moto: see the module docstring for what goes where.

    ``cfn_client`` is a boto3 CloudFormation client of the moto server; ``clients(service)``
    returns other boto3 clients of the same server (default: built from ``cfn_client``'s endpoint
    and region). ``actions_url`` (the local HTTP server, e.g. http://127.0.0.1:8080) replaces the
    Function URL in ACTIONS_URL and the URL outputs. Returns a ``LocalStack``.
    """
    build = _StackBuild(
        cfn_client,
        template_dict,
        stack_name,
        parameters,
        clients=clients if clients is not None else _clients_beside(cfn_client),
        actions_url=actions_url,
    )
    # 1. moto CloudFormation: table, topics, queues, key.
    moto_ids = build.create_in_moto()
    # 2. Values of the resources the local stack does not create (functions run in-process).
    build.name_in_process_resources()
    # 3. Created directly with boto3 (moto CloudFormation skips these types).
    direct = build.create_directly()
    # 4. What the runner needs: function environments and the outputs, every reference resolved.
    build.describe_functions()
    build.resolve_outputs()
    stack = build.stack
    stack.created_in_moto_cloudformation = tuple(moto_ids)
    stack.created_directly = tuple(direct)
    return stack


def _clients_beside(cfn_client: Any) -> Callable[[str], Any]:
    """``clients(service)``: boto3 clients of the same endpoint and region as ``cfn_client``."""
    endpoint = cfn_client.meta.endpoint_url
    region = cfn_client.meta.region_name

    def clients(service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=region, endpoint_url=endpoint)

    return clients


# The order the directly created types are created in (secrets and subscriptions before alarms).
_DIRECT_ORDER = {
    "AWS::SecretsManager::Secret": 0,
    "AWS::SNS::Subscription": 1,
    "AWS::CloudWatch::Alarm": 2,
    "AWS::CloudWatch::Dashboard": 3,
}


class _StackBuild:
    """One ``create_stack`` in progress: the template, the stack filled so far, and its resolver."""

    def __init__(
        self,
        cfn_client: Any,
        template: dict[str, Any],
        stack_name: str,
        parameters: Mapping[str, Any] | None,
        *,
        clients: Callable[[str], Any],
        actions_url: str | None,
    ):
        self.cfn_client = cfn_client
        self.template = template
        self.parameters = parameters
        self.clients = clients
        self.actions_url = actions_url
        self.region = cfn_client.meta.region_name or REGION
        self.resources = template.get("Resources") or {}
        self.params = _param_values(template, parameters)
        pseudo = {
            "AWS::StackName": stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.stack = LocalStack(stack_name, "", self.params, {}, {}, {})
        self.resolver = _Resolver({**self.params, **pseudo}, template.get("Conditions") or {}, self.stack)

    def active(self, res: Mapping[str, Any]) -> bool:
        return "Condition" not in res or self.resolver.condition(res["Condition"])

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{PARTITION}:{service}:{self.region}:{ACCOUNT_ID}:{resource}"

    def create_in_moto(self) -> list[str]:
        """Create the types moto CloudFormation supports as one stack; their logical ids."""
        stack_name = self.stack.stack_name
        moto_ids = [lid for lid, r in self.resources.items() if r["Type"] in MOTO_TYPES and self.active(r)]
        moto_template = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": self.template.get("Parameters") or {},
            "Conditions": self.template.get("Conditions") or {},
            "Resources": {lid: self.resources[lid] for lid in moto_ids},
        }
        created = self.cfn_client.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(moto_template),
            Parameters=[
                {"ParameterKey": k, "ParameterValue": v}
                for k, v in self.params.items()
                if self.parameters and k in self.parameters
            ],
            Capabilities=["CAPABILITY_IAM"],
        )
        self.stack.stack_id = created["StackId"]
        _wait_created(self.cfn_client, stack_name)
        for item in self.cfn_client.describe_stack_resources(StackName=stack_name)["StackResources"]:
            self.stack.resources[item["LogicalResourceId"]] = item["PhysicalResourceId"]
        for lid in moto_ids:
            self._moto_attributes(lid)
        return moto_ids

    def _moto_attributes(self, lid: str) -> None:
        """The Fn::GetAtt values of a resource moto created (and the TTL moto CloudFormation skips)."""
        kind, physical = self.resources[lid]["Type"], self.stack.resources[lid]
        if kind == "AWS::SQS::Queue":
            name = physical.rstrip("/").rsplit("/", 1)[-1]
            self.stack.attributes[lid] = {
                "QueueName": name,
                "Arn": self.arn("sqs", name),
                "QueueUrl": physical,
            }
        elif kind == "AWS::SNS::Topic":
            self.stack.attributes[lid] = {"TopicName": physical.rsplit(":", 1)[-1], "TopicArn": physical}
        elif kind == "AWS::DynamoDB::Table":
            self.stack.attributes[lid] = {"Arn": self.arn("dynamodb", f"table/{physical}")}
            ttl = (self.resources[lid].get("Properties") or {}).get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):  # moto CloudFormation ignores TimeToLiveSpecification
                self.clients("dynamodb").update_time_to_live(
                    TableName=physical,
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )
        elif kind == "AWS::KMS::Key":
            self.stack.attributes[lid] = {"Arn": self.arn("kms", f"key/{physical}"), "KeyId": physical}

    def name_in_process_resources(self) -> None:
        """Names and ARNs of what runs in-process (functions, layers, roles, custom resources,
        Function URLs: ``actions_url`` when given), so that references to them resolve."""
        stack_name, stack = self.stack.stack_name, self.stack
        for lid, res in self.resources.items():
            if lid in stack.resources or not self.active(res):
                continue
            kind, props = res["Type"], res.get("Properties") or {}
            if kind == "AWS::Lambda::Function":
                name = str(self.resolver.resolve(props.get("FunctionName") or f"{stack_name}-{lid}"))
                stack.resources[lid] = name
                stack.attributes[lid] = {"Arn": self.arn("lambda", f"function:{name}")}
            elif kind == "AWS::Lambda::LayerVersion":
                name = str(self.resolver.resolve(props.get("LayerName") or lid))
                stack.resources[lid] = self.arn("lambda", f"layer:{name}:1")
            elif kind == "AWS::IAM::Role":
                stack.resources[lid] = f"{stack_name}-{lid}"
                stack.attributes[lid] = {"Arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{stack_name}-{lid}"}
            elif kind.startswith("Custom::"):
                stack.resources[lid] = f"{stack_name}-{lid}"
        for lid, res in self.resources.items():
            if res["Type"] == "AWS::Lambda::Url" and self.active(res):
                url = (
                    (self.actions_url.rstrip("/") + "/")
                    if self.actions_url
                    else "https://localhost.lambda-url.local/"
                )
                stack.resources[lid] = self.arn("lambda", f"function:{lid}")
                stack.attributes[lid] = {"FunctionUrl": url, "FunctionArn": stack.resources[lid]}

    def create_directly(self) -> list[str]:
        """Create with boto3 what moto CloudFormation skips; their logical ids, in creation order."""
        direct: list[str] = []
        for lid, res in sorted(
            ((lid, r) for lid, r in self.resources.items() if r["Type"] in DIRECT_TYPES and self.active(r)),
            key=lambda item: _DIRECT_ORDER[item[1]["Type"]],
        ):
            kind, props = res["Type"], self.resolver.resolve(res.get("Properties") or {})
            if kind == "AWS::SecretsManager::Secret":
                self.stack.resources[lid] = self._create_secret(lid, props)
            elif kind == "AWS::SNS::Subscription":
                self.stack.resources[lid] = self._subscribe(lid, props)
                if props.get("Protocol") == "lambda":
                    continue  # not created: the runner delivers to the function in-process
            elif kind == "AWS::CloudWatch::Alarm":
                name = props.pop("AlarmName", None) or f"{self.stack.stack_name}-{lid}-{uuid.uuid4().hex[:8]}"
                self.clients("cloudwatch").put_metric_alarm(AlarmName=name, **props)
                self.stack.resources[lid] = name
            elif kind == "AWS::CloudWatch::Dashboard":
                name = props.get("DashboardName") or f"{self.stack.stack_name}-{lid}"
                self.clients("cloudwatch").put_dashboard(
                    DashboardName=name, DashboardBody=props["DashboardBody"]
                )
                self.stack.resources[lid] = name
            direct.append(lid)
        return direct

    def _create_secret(self, lid: str, props: Mapping[str, Any]) -> str:
        value = props.get("SecretString") or _generate_secret(props.get("GenerateSecretString") or {})
        name = props.get("Name") or f"{self.stack.stack_name}-{lid}-{uuid.uuid4().hex[:8]}"
        made = self.clients("secretsmanager").create_secret(
            Name=name, SecretString=value, Description=props.get("Description", "")
        )
        return made["ARN"]

    def _subscribe(self, lid: str, props: Mapping[str, Any]) -> str:
        """Subscribe to the topic; a Lambda subscription is kept for the runner to deliver in-process."""
        if props.get("Protocol") == "lambda":
            fn = next(
                (k for k, v in self.stack.attributes.items() if v.get("Arn") == props.get("Endpoint")), ""
            )
            self.stack.lambda_subscriptions.append((props["TopicArn"], fn))
            return f"{props['TopicArn']}:{lid}"
        made = self.clients("sns").subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )
        return made["SubscriptionArn"]

    def describe_functions(self) -> None:
        """Each function as the runner runs it, with the environment Lambda would give it."""
        for lid, res in self.resources.items():
            if res["Type"] != "AWS::Lambda::Function" or not self.active(res):
                continue
            props = res.get("Properties") or {}
            variables = self.resolver.resolve((props.get("Environment") or {}).get("Variables") or {})
            env = {k: str(v) for k, v in variables.items()}
            if self.actions_url and "ACTIONS_URL" in env:
                env["ACTIONS_URL"] = self.actions_url.rstrip("/")
            self.stack.functions[lid] = LocalFunction(
                logical_id=lid,
                name=self.stack.resources[lid],
                code_path=local_code_path(props.get("Code") or {}),
                handler=str(props.get("Handler", "app.lambda_handler")),
                environment=env,
                timeout_s=int(self.resolver.resolve(props.get("Timeout", 3))),
                memory_mb=int(self.resolver.resolve(props.get("MemorySize", 128))),
            )

    def resolve_outputs(self) -> None:
        """The stack's outputs (URLs under ``actions_url`` when given), kept in SSM as well."""
        outputs = self.stack.outputs
        for name, spec in (self.template.get("Outputs") or {}).items():
            if "Condition" in spec and not self.resolver.condition(spec["Condition"]):
                continue
            outputs[name] = str(self.resolver.resolve(spec["Value"]))
        if self.actions_url:
            base = outputs.get("ActionsUrl")
            for key, value in list(outputs.items()):
                if base and value.startswith(base):
                    outputs[key] = self.actions_url.rstrip("/") + value[len(base) :]
        stack_name = self.stack.stack_name
        self.clients("ssm").put_parameter(
            Name=outputs_parameter(stack_name),
            Value=json.dumps(outputs, sort_keys=True),
            Type="String",
            Overwrite=True,
            Description=f"Outputs of the local stack {stack_name} (moto's DescribeStacks has none)",
        )
