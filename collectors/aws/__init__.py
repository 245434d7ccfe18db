"""The AWS collector: EC2 instances, EBS volumes and Elastic IPs of every configured account and
region, read with boto3 (see docs/providers/aws.md)."""

from collectors.aws.collect import collect_addresses, collect_instances, collect_volumes
from collectors.aws.plan import plan

__all__ = ["collect_addresses", "collect_instances", "collect_volumes", "plan"]
