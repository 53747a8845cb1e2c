// Node entry point: gRPC (HTTP/2, optionally with a mesh client certificate straight to
// the api) or gRPC-web through the edge.
import type { SecureClientSessionOptions } from "node:http2";

import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";

import type { TransportFactory } from "./client.js";

export { ArcoError, createArcoClient, PUBLIC_SERVICES } from "./client.js";
export type { ArcoClient, ArcoClientOptions, PublicServices, TransportFactory } from "./client.js";

/** TLS of the connection: trusted CAs, and a client certificate where the server asks one. */
export type TlsOptions = Pick<SecureClientSessionOptions, "ca" | "cert" | "key" | "servername">;

export function grpc(tls: TlsOptions = {}): TransportFactory {
  return ({ baseUrl, interceptors }) =>
    createGrpcTransport({ baseUrl, interceptors, nodeOptions: tls });
}

export function grpcWeb(tls: TlsOptions = {}): TransportFactory {
  return ({ baseUrl, interceptors }) =>
    createGrpcWebTransport({ baseUrl, interceptors, httpVersion: "1.1", nodeOptions: tls });
}
