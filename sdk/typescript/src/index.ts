// Browser entry point: gRPC-web over fetch, through the edge.
import { createGrpcWebTransport } from "@connectrpc/connect-web";

import type { TransportFactory } from "./client.js";

export { ArcoError, createArcoClient, PUBLIC_SERVICES } from "./client.js";
export type { ArcoClient, ArcoClientOptions, PublicServices, TransportFactory } from "./client.js";

/** gRPC-web through the edge (Envoy's grpc_web filter): what a browser can speak. */
export const grpcWeb: TransportFactory = ({ baseUrl, interceptors }) =>
  createGrpcWebTransport({ baseUrl, interceptors });
