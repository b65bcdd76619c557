"""py-spiffe against spirelet's Workload API, run by test_agent_clients
with py-spiffe's pinned install on PYTHONPATH (never this interpreter's
own packages): prints what it fetched, one fact a line."""
import sys

from spiffe import WorkloadApiClient


def main():
    socket, audience = sys.argv[1], sys.argv[2]
    with WorkloadApiClient(socket_path=socket) as client:
        svid = client.fetch_x509_svid()
        print("x509", svid.spiffe_id)
        bundles = client.fetch_x509_bundles()
        for b in bundles.bundles:
            print("x509bundle", b.trust_domain)
        jwt = client.fetch_jwt_svid(audience={audience})
        print("jwt", jwt.spiffe_id)
        checked = client.validate_jwt_svid(jwt.token, audience)
        print("validated", checked.spiffe_id)
        jb = client.fetch_jwt_bundles()
        for b in jb.bundles:
            print("jwtbundle", b.trust_domain)


if __name__ == "__main__":
    main()
