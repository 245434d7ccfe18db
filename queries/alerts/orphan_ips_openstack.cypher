// name: orphan_ips_openstack
// description: OpenStack public IP addresses of Gardener shoots that are gone, or bound only to orphaned VMs.
// severity: warning
// schedule: after-collect
// sources: gardener, openstack
// uses: orphans
// params: provider=openstack, kind=ip
// key: uid
// A thin alert: graphinv runs the orphan report (queries/orphan_ips.cypher) for this provider and kind.
