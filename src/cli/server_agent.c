/*
 * `spirelet server agent list|show|evict|ban|count`: attested agents
 * through the server's admin socket, as spire-server agent shows and
 * manages them.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "cli/pbjson.h"
#include "core/mem.h"
#include "spire/api/server/agent/v1/agent.pb.h"

#define AGENT_SERVICE	"/spire.api.server.agent.v1.Agent/"
#define AGENT_WHY_MAX	256	/* bytes of a reason inside a message */
#define AGENT_LIST_REQ	spire_api_server_agent_v1_ListAgentsRequest_fields
#define AGENT_LIST_RESP	spire_api_server_agent_v1_ListAgentsResponse_fields
#define AGENT_LIST_PAGE	spire_api_server_agent_v1_ListAgentsResponse

/* The filters of list and count. */
struct agent_filter_flags {
	struct admin_cmd	 c;
	const char		*attestation_type;
	const char		*banned;
	const char		*can_reattest;
	const char		*expires_before;
	const char		*match_selectors;
	struct flag_list	 selectors;
};

static int	agent_time_layout_ok(const char *);
static int	agent_filter(struct agent_filter_flags *, struct admin_pool *,
		    spire_api_server_agent_v1_AgentFilter *, char *, size_t);
static void	agent_print(const spire_api_types_Agent *);
static int	agent_list_or_count(int, char *[], int);
static int	agent_one(int, char *[], const char *, const char *,
		    const char *);

/*
 * The layout "2006-01-02 15:04:05 -0700 -07" that spire-server checks
 * -expiresBefore against (and then sends as it is).
 * XXX: only the shape is checked (digits, signs, separators), not the
 * ranges time.Parse checks, and its error does not say which element
 * failed to parse as Go's does.
 */
static int
agent_time_layout_ok(const char *s)
{
	static const char	 layout[] = "dddd-dd-dd dd:dd:dd sdddd sdd";
	const char		*l;

	if (strlen(s) != sizeof(layout) - 1)
		return 0;
	for (l = layout; *l != '\0'; l++, s++) {
		if ((*l == 'd' && !isdigit((unsigned char)*s)) ||
		    (*l == 's' && *s != '+' && *s != '-') ||
		    (*l != 'd' && *l != 's' && *l != *s))
			return 0;
	}
	return 1;
}

static int
agent_filter(struct agent_filter_flags *f, struct admin_pool *p,
    spire_api_server_agent_v1_AgentFilter *filter, char *err,
    size_t errlen)
{
	char	why[AGENT_WHY_MAX];
	int	m, i, t;

	memset(filter, 0, sizeof(*filter));
	if (f->selectors.n > 0) {
		m = admin_match_parse(f->match_selectors);
		if (m == -1) {
			snprintf(err, errlen, "unsupported match behavior");
			return -1;
		}
		filter->by_selector_match.selectors = admin_pool_alloc(p,
		    (size_t)f->selectors.n,
		    sizeof(*filter->by_selector_match.selectors));
		if (filter->by_selector_match.selectors == NULL)
			goto nomem;
		for (i = 0; i < f->selectors.n; i++) {
			if (admin_selector_parse(p, f->selectors.v[i],
			    &filter->by_selector_match.selectors[i], why,
			    sizeof(why)) == -1) {
				snprintf(err, errlen, "error parsing selector "
				    "\"%s\": %s", f->selectors.v[i], why);
				return -1;
			}
		}
		filter->by_selector_match.selectors_count =
		    (pb_size_t)f->selectors.n;
		filter->by_selector_match.match =
		    (spire_api_types_SelectorMatch_MatchBehavior)m;
		filter->has_by_selector_match = true;
	}
	if (f->expires_before != NULL && *f->expires_before != '\0') {
		if (!agent_time_layout_ok(f->expires_before)) {
			snprintf(err, errlen, "date is not valid: parsing time "
			    "\"%s\" as \"2006-01-02 15:04:05 -0700 -07\": "
			    "cannot parse", f->expires_before);
			return -1;
		}
		filter->by_expires_before = admin_pool_strdup(p,
		    f->expires_before);
		if (filter->by_expires_before == NULL)
			goto nomem;
	}
	if (f->attestation_type != NULL && *f->attestation_type != '\0') {
		filter->by_attestation_type = admin_pool_strdup(p,
		    f->attestation_type);
		if (filter->by_attestation_type == NULL)
			goto nomem;
	}
	/* 0: all, 1: false, 2: true, as commoncli.BoolFlag. */
	t = admin_tristate(f->can_reattest);
	if (t != 0) {
		filter->has_by_can_reattest = true;
		filter->by_can_reattest.value = t == 2;
	}
	t = admin_tristate(f->banned);
	if (t != 0) {
		filter->has_by_banned = true;
		filter->by_banned.value = t == 2;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* printAgents for one agent; the expiry in local time, as Go's Unix. */
static void
agent_print(const spire_api_types_Agent *a)
{
	char	id[SPIFFE_ID_MAX + 16], t[OUTPUT_TIME_MAX];

	id[0] = '\0';
	if (a->has_id)
		admin_id_string(&a->id, id, sizeof(id));
	printf("SPIFFE ID         : %s\n", id);
	printf("Attestation type  : %s\n", a->attestation_type != NULL ?
	    a->attestation_type : "");
	if (output_time(a->x509svid_expires_at, 0, t, sizeof(t)) == -1)
		t[0] = '\0';
	printf("Expiration time   : %s\n", t);
	/* Banned agents have no serial number. */
	if (a->banned)
		printf("Banned            : true\n");
	else
		printf("Serial number     : %s\n",
		    a->x509svid_serial_number != NULL ?
		    a->x509svid_serial_number : "");
	printf("Can re-attest     : %s\n", a->can_reattest ? "true" :
	    "false");
	printf("\n");
}

/* Shared by list (count == 0) and count (count == 1). */
static int
agent_list_or_count(int argc, char *argv[], int count)
{
	spire_api_server_agent_v1_ListAgentsRequest	 req =
	    spire_api_server_agent_v1_ListAgentsRequest_init_zero;
	spire_api_server_agent_v1_CountAgentsRequest	 creq =
	    spire_api_server_agent_v1_CountAgentsRequest_init_zero;
	spire_api_server_agent_v1_CountAgentsResponse	 cresp =
	    spire_api_server_agent_v1_CountAgentsResponse_init_zero;
	AGENT_LIST_PAGE					*pages = NULL;
	const spire_api_types_Agent			**all = NULL;
	struct agent_filter_flags			 f;
	struct admin_pool				 pool = { 0 };
	void						*vpages = NULL;
	char			 err[OUTPUT_ERROR_MAX];
	size_t			 npages = 0, n = 0, i, j;
	int			 rc;
	const struct flag	 flags[] = {
		{ "attestationType", FLAG_STRING, &f.attestation_type,
		    "Filter by attestation type, like join_token or "
		    "x509pop." },
		{ "banned", FLAG_STRING, &f.banned, "Filter based on string "
		    "received, 'true': banned agents, 'false': not banned "
		    "agents, other value will return all." },
		{ "canReattest", FLAG_STRING, &f.can_reattest, "Filter based "
		    "on string received, 'true': agents that can reattest, "
		    "'false': agents that can't reattest, other value will "
		    "return all." },
		{ "expiresBefore", FLAG_STRING, &f.expires_before, "Filter by "
		    "expiration time (format: \"2006-01-02 15:04:05 -0700 "
		    "-07\")" },
		{ "matchSelectorsOn", FLAG_STRING, &f.match_selectors,
		    "The match mode used when filtering by selectors. "
		    "Options: exact, any, superset and subset (default "
		    "\"superset\")" },
		ADMIN_FLAG_OUTPUT(f.c),
		{ "selector", FLAG_LIST, &f.selectors, "A colon-delimited "
		    "type:value selector. Can be used more than once" },
		ADMIN_FLAG_SOCKET(f.c),
		ADMIN_FLAG_END,
	};

	memset(&f, 0, sizeof(f));
	f.c.name = count ? "agent count" : "agent list";
	f.c.socket = ADMIN_SERVER_SOCKET;
	f.match_selectors = "superset";
	rc = admin_parse(&f.c, flags, argc, argv);
	if (rc != -1)
		goto out;
	if (agent_filter(&f, &pool, count ? &creq.filter : &req.filter, err,
	    sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	if (count) {
		creq.has_filter = true;
		if (admin_call(&f.c, AGENT_SERVICE "CountAgents", NULL, 0,
		    CLI_ADMIN_TIMEOUT_SEC,
		    spire_api_server_agent_v1_CountAgentsRequest_fields,
		    &creq,
		    spire_api_server_agent_v1_CountAgentsResponse_fields,
		    &cresp, err, sizeof(err)) == -1) {
			rc = output_errorf("%s", err);
			goto out;
		}
		if (f.c.format == OUTPUT_JSON) {
			rc = output_json_take(pbjson_count(cresp.count)) == 0 ?
			    0 : 1;
			goto out;
		}
		printf("%d attested %s\n", (int)cresp.count,
		    output_plural(cresp.count, "agent", "agents"));
		rc = 0;
		goto out;
	}
	req.has_filter = true;
	req.page_size = CLI_PAGE_SIZE_AGENTS;
	rc = admin_list_pages(&f.c, AGENT_SERVICE "ListAgents",
	    AGENT_LIST_REQ, &req, &req.page_token, AGENT_LIST_RESP,
	    sizeof(*pages), offsetof(AGENT_LIST_PAGE, next_page_token),
	    &vpages, &npages, err, sizeof(err));
	pages = vpages;
	switch (rc) {
	case 0:
		break;
	case ADMIN_LIST_TOO_MANY:
		rc = output_errorf("over %d pages of agents", CLI_PAGES_MAX);
		goto out;
	case ADMIN_LIST_NOMEM:
		goto nomem;
	default:
		rc = output_errorf("%s", err);
		goto out;
	}
	for (i = 0; i < npages; i++)
		n += pages[i].agents_count;
	all = mem_calloc(n > 0 ? n : 1, sizeof(*all));
	if (all == NULL)
		goto nomem;
	for (n = 0, i = 0; i < npages; i++) {
		for (j = 0; j < pages[i].agents_count; j++)
			all[n++] = &pages[i].agents[j];
	}
	if (f.c.format == OUTPUT_JSON) {
		rc = output_json_take(pbjson_agent_list(all, n, "")) == 0 ?
		    0 : 1;
		goto out;
	}
	if (n == 0) {
		printf("No attested agents found\n");
		rc = 0;
		goto out;
	}
	printf("Found %zu attested %s:\n\n", n, output_plural((long)n,
	    "agent", "agents"));
	for (i = 0; i < n; i++)
		agent_print(all[i]);
	rc = 0;
	goto out;
nomem:
	rc = output_errorf("out of memory");
out:
	for (i = 0; i < npages; i++)
		pb_release(AGENT_LIST_RESP, &pages[i]);
	mem_free(pages);
	mem_free(all);
	admin_pool_free(&pool);
	flags_free_list(&f.selectors);
	return rc;
}

int
cli_server_agent_list(int argc, char *argv[])
{
	return agent_list_or_count(argc, argv, 0);
}

int
cli_server_agent_count(int argc, char *argv[])
{
	return agent_list_or_count(argc, argv, 1);
}

/*
 * show, evict and ban: one agent by -spiffeID. method is the RPC, done
 * the pretty line of evict and ban (NULL for show).
 */
static int
agent_one(int argc, char *argv[], const char *name, const char *method,
    const char *done)
{
	spire_api_server_agent_v1_GetAgentRequest	req =
	    spire_api_server_agent_v1_GetAgentRequest_init_zero;
	spire_api_types_Agent				agent =
	    spire_api_types_Agent_init_zero;
	struct admin_cmd				c;
	struct admin_pool				pool = { 0 };
	const char					*spiffe_id = NULL;
	char						err[OUTPUT_ERROR_MAX];
	char						path[128];
	size_t						i;
	int						rc, show;
	char						help[80];
	const struct flag				flags[] = {
		ADMIN_FLAG_OUTPUT(c),
		ADMIN_FLAG_SOCKET(c),
		{ "spiffeID", FLAG_STRING, &spiffe_id, help },
		ADMIN_FLAG_END,
	};

	show = done == NULL;
	snprintf(help, sizeof(help), "The SPIFFE ID of the agent to %s "
	    "(agent identity)", name + strlen("agent "));
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.socket = ADMIN_SERVER_SOCKET;
	rc = admin_parse(&c, flags, argc, argv);
	if (rc != -1)
		return rc;
	if (spiffe_id == NULL || *spiffe_id == '\0')
		return output_errorf("a SPIFFE ID is required");
	if (admin_id_parse(&pool, spiffe_id, &req.id, err,
	    sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	req.has_id = true;
	snprintf(path, sizeof(path), AGENT_SERVICE "%s", method);
	/*
	 * GetAgentRequest, DeleteAgentRequest and BanAgentRequest all
	 * carry the ID as field 1; Empty decodes into Agent as nothing.
	 */
	if (admin_call(&c, path, NULL, 0, CLI_ADMIN_TIMEOUT_SEC,
	    spire_api_server_agent_v1_GetAgentRequest_fields, &req,
	    spire_api_types_Agent_fields, &agent, err, sizeof(err)) == -1) {
		rc = output_errorf("%s", err);
		goto out;
	}
	if (c.format == OUTPUT_JSON) {
		rc = output_json_take(show ? pbjson_agent(&agent) :
		    pbjson_empty()) == 0 ? 0 : 1;
		goto out;
	}
	rc = 0;
	if (!show) {
		printf("%s\n", done);
		goto out;
	}
	printf("Found an attested agent given its SPIFFE ID\n\n");
	agent_print(&agent);
	for (i = 0; i < agent.selectors_count; i++)
		printf("Selectors         : %s:%s\n",
		    agent.selectors[i].type != NULL ? agent.selectors[i].type :
		    "", agent.selectors[i].value != NULL ?
		    agent.selectors[i].value : "");
out:
	pb_release(spire_api_types_Agent_fields, &agent);
	admin_pool_free(&pool);
	return rc;
}

int
cli_server_agent_show(int argc, char *argv[])
{
	return agent_one(argc, argv, "agent show", "GetAgent", NULL);
}

int
cli_server_agent_evict(int argc, char *argv[])
{
	return agent_one(argc, argv, "agent evict", "DeleteAgent",
	    "Agent evicted successfully");
}

int
cli_server_agent_ban(int argc, char *argv[])
{
	return agent_one(argc, argv, "agent ban", "BanAgent",
	    "Agent banned successfully");
}
