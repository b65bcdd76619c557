/*
 * grpc.health.v1.Health, as grpc-go serves it: Check answers the status
 * of a service ("" is the server as a whole) or NOT_FOUND for a service
 * never set; Watch streams the status now and on every change
 * (SERVICE_UNKNOWN for a service never set).
 */
#ifndef RPC_HEALTH_H
#define RPC_HEALTH_H

struct rpc_server;
struct rpc_health;

enum rpc_health_status {
	RPC_HEALTH_UNKNOWN = 0,
	RPC_HEALTH_SERVING = 1,
	RPC_HEALTH_NOT_SERVING = 2,
	RPC_HEALTH_SERVICE_UNKNOWN = 3,
};

/* Starts with "" SERVING. NULL when memory ran out. */
struct rpc_health *rpc_health_new(void);
/*
 * Registers Check and Watch on srv. The health object must outlive the
 * server (the method table lives in it). 0 or -1 (logged).
 */
int		 rpc_health_register(struct rpc_health *, struct rpc_server *)
		    __attribute__((warn_unused_result));
/*
 * Sets a service's status (name copied) and tells its watchers.
 * 0, or -1 past RPC_HEALTH_SERVICES_MAX services or out of memory.
 */
int		 rpc_health_set(struct rpc_health *, const char *service,
		    enum rpc_health_status)
		    __attribute__((warn_unused_result));
/* Finishes open Watch calls and frees. Accepts NULL. */
void		 rpc_health_free(struct rpc_health *);

#endif
