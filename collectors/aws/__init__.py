"""The AWS collector: EC2 instances, EBS volumes and Elastic IPs of every configured account and
region, read with boto3 (see docs/providers/aws.md). Names load on first use (collectors/lazy.py)."""

from collectors.lazy import lazy_exports

_EXPORTS = {"collect_addresses": "collect", "collect_instances": "collect", "collect_volumes": "collect",
            "plan": "collector", "AwsCollector": "collector", "AwsSettings": "settings"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
