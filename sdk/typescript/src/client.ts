// The hand-written layer over the generated descriptors: one client per public service,
// every call with the user's token and a request id, failures as ArcoError with the
// server's stable reason (the google.rpc.ErrorInfo the api attaches to every error).
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";

import { BrowserService } from "../gen/arco/browser/v1/browser_service_pb.js";
import { CatalogService } from "../gen/arco/catalog/v1/catalog_service_pb.js";
import { OrchestrationService } from "../gen/arco/orchestration/v1/orchestration_service_pb.js";
import { QueryService } from "../gen/arco/query/v1/query_service_pb.js";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";

/** Every public service of the mesh, by the name the client exposes it under. */
export const PUBLIC_SERVICES = {
  orchestration: OrchestrationService,
  catalog: CatalogService,
  query: QueryService,
  browser: BrowserService,
} as const;

export type PublicServices = typeof PUBLIC_SERVICES;

export type ArcoClient = { [K in keyof PublicServices]: Client<PublicServices[K]> };

/** Builds the transport for a base URL and the interceptors the client adds. */
export type TransportFactory = (options: {
  baseUrl: string;
  interceptors: Interceptor[];
}) => Transport;

export interface ArcoClientOptions {
  /** The edge (gRPC-web or gRPC) or the api itself, e.g. "https://arco.example.com". */
  baseUrl: string;
  /** The user's JWT; omitted only against a dev-posture mesh. */
  token?: string;
  /** gRPC-web over fetch (browsers) by default; see `arco-sdk/node` for gRPC. */
  transport: TransportFactory;
  /** Mints the x-request-id of each call (default: a random UUID). */
  requestId?: () => string;
}

function snakeCase(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * A failed call: a ConnectError (so connect passes it through unchanged) that adds the
 * server's stable reason, its ErrorInfo metadata and the request id the call was sent with.
 */
export class ArcoError extends ConnectError {
  // The name stays "ConnectError": connect recognises its errors by name and would wrap an
  // ArcoError thrown by the interceptor into a plain one, losing the reason.

  /** A real prototype check (ConnectError's own accepts any ConnectError-shaped value). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  constructor(
    cause: ConnectError,
    /** Stable, machine-readable (e.g. "run_not_found"); the code's name when the server gave none. */
    readonly reason: string,
    readonly requestId: string | undefined,
    readonly info: Record<string, string> = {},
  ) {
    super(cause.rawMessage, cause.code, cause.metadata, undefined, cause);
    this.details = cause.details;
  }

  /** The gRPC code's name in snake case, e.g. "not_found". */
  get codeName(): string {
    return snakeCase(this.code);
  }

  static fromCall(error: unknown, requestId: string | undefined): ArcoError {
    if (error instanceof ArcoError) return error;
    const connect = ConnectError.from(error);
    const [detail] = connect.findDetails(ErrorInfoSchema);
    return new ArcoError(connect, detail?.reason || snakeCase(connect.code), requestId, {
      ...(detail?.metadata ?? {}),
    });
  }
}

function authAndRequestId(options: ArcoClientOptions): Interceptor {
  const mint = options.requestId ?? (() => crypto.randomUUID());
  return (next) => async (request) => {
    const requestId = request.header.get("x-request-id") ?? mint();
    request.header.set("x-request-id", requestId);
    if (options.token) request.header.set("authorization", `Bearer ${options.token}`);
    try {
      return await next(request);
    } catch (error) {
      throw ArcoError.fromCall(error, requestId);
    }
  };
}

/** One typed client per public service, sharing one transport. */
export function createArcoClient(options: ArcoClientOptions): ArcoClient {
  const transport = options.transport({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    interceptors: [authAndRequestId(options)],
  });
  const make = <S extends DescService>(service: S): Client<S> => createClient(service, transport);
  return {
    orchestration: make(PUBLIC_SERVICES.orchestration),
    catalog: make(PUBLIC_SERVICES.catalog),
    query: make(PUBLIC_SERVICES.query),
    browser: make(PUBLIC_SERVICES.browser),
  };
}
