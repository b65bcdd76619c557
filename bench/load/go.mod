module spirelet.local/benchload

// Versions as SPIRE v1.13.3's go.mod pins them, so the client is built
// from the same gRPC and SPIFFE libraries as SPIRE's own agent.
go 1.25.3

require (
	github.com/spiffe/go-spiffe/v2 v2.6.0
	github.com/spiffe/spire-api-sdk v1.2.5-0.20250109200630-101d5e7de758
	golang.org/x/sys v0.37.0
	google.golang.org/grpc v1.76.0
)

require (
	github.com/go-jose/go-jose/v4 v4.1.3 // indirect
	golang.org/x/net v0.46.0 // indirect
	golang.org/x/text v0.30.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20251002232023-7c0ddcbb5797 // indirect
	google.golang.org/protobuf v1.36.10 // indirect
)
