/*
 * The messages the operator commands print, as JSON trees shaped the way
 * protojson writes them with UseProtoNames and EmitUnpopulated: every
 * field under its proto name, zero values included, int64 and uint64 as
 * decimal strings, bytes as standard base64, unset submessages left out
 * (cliprinter drops the nulls protojson gives them).
 *
 * Every function takes a borrowed message and returns a new tree (one
 * reference for the caller), or NULL when memory ran out.
 */
#ifndef CLI_PBJSON_H
#define CLI_PBJSON_H

#include <jansson.h>

#include "google/protobuf/struct.pb.h"
#include "spiffe/workload/workload.pb.h"
#include "spire/api/server/agent/v1/agent.pb.h"
#include "spire/api/server/bundle/v1/bundle.pb.h"
#include "spire/api/server/entry/v1/entry.pb.h"
#include "spire/api/server/svid/v1/svid.pb.h"
#include "spire/api/types/types.pb.h"

json_t	*pbjson_entry(const spire_api_types_Entry *);
json_t	*pbjson_agent(const spire_api_types_Agent *);
json_t	*pbjson_bundle(const spire_api_types_Bundle *);
json_t	*pbjson_join_token(const spire_api_types_JoinToken *);
/* {"count": n}: every Count*Response. */
json_t	*pbjson_count(long n);
/* {}: google.protobuf.Empty. */
json_t	*pbjson_empty(void);

/* BatchCreateEntryResponse and BatchUpdateEntryResponse alike. */
json_t	*pbjson_entry_results(
	    const spire_api_server_entry_v1_EntryResult *, size_t n);
json_t	*pbjson_entry_delete_results(
	    const spire_api_server_entry_v1_BatchDeleteEntryResponse *);
json_t	*pbjson_entry_list(const spire_api_types_Entry *const *, size_t n,
	    const char *next_page_token);
json_t	*pbjson_agent_list(const spire_api_types_Agent *const *, size_t n,
	    const char *next_page_token);
json_t	*pbjson_bundle_list(
	    const spire_api_server_bundle_v1_ListFederatedBundlesResponse *);
json_t	*pbjson_bundle_results(
	    const spire_api_server_bundle_v1_BatchFederatedBundleResponse *);
json_t	*pbjson_bundle_delete_results(const
	    spire_api_server_bundle_v1_BatchDeleteFederatedBundleResponse *);
json_t	*pbjson_mint_jwt(
	    const spire_api_server_svid_v1_MintJWTSVIDResponse *);

/* The Workload API's answers. */
json_t	*pbjson_x509svid_response(const X509SVIDResponse *);
json_t	*pbjson_jwtsvid_response(const JWTSVIDResponse *);
json_t	*pbjson_jwt_bundles(const JWTBundlesResponse *);
json_t	*pbjson_validate_response(const ValidateJWTSVIDResponse *);

/*
 * A google.protobuf.Struct as the JSON object it stands for. With
 * drop_nulls, null values are left out (what cliprinter does to a
 * printed message); without, they stay (protojson.Marshal alone).
 */
json_t	*pbjson_struct(const google_protobuf_Struct *, int drop_nulls);

#endif
