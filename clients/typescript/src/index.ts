// The hand-written layer over the generated types (src/generated/schema.ts,
// never edited by hand): what a generator cannot know about roster.
//
// - sign-in is a form-encoded RFC 6749 request, and tokens need refreshing;
// - lists are cursor-paged: iterate them with `for await`;
// - editable resources answer an ETag that the next edit sends as If-Match.
//
// Everything else is the typed openapi-fetch client, exposed as `api`.

import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

export type { components, paths } from "./generated/schema.js";

type Schemas = components["schemas"];
export type ErrorCode = Schemas["ErrorCode"];
export type Problem = Schemas["Problem"];
export type OAuthError = Schemas["OAuthError"];
export type TokenResponse = Schemas["TokenResponse"];
export type User = Schemas["UserView"];
export type CustomerUser = Schemas["CustomerUserView"];
export type Customer = Schemas["CustomerView"];
export type AuditEvent = Schemas["AuditEventView"];
export type UserStatus = Schemas["UserStatus"];

/** A resource with the ETag it was read with: pass it back to edit it. */
export interface Tagged<T> {
  readonly data: T;
  readonly etag: string;
}

/** Any answer that is not a success: a problem (`code`) or an RFC 6749 error. */
export class RosterError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
    readonly oauth: OAuthError | undefined,
  ) {
    super(problem ? `${status} ${problem.code}: ${problem.detail}` : oauth ? `${status} ${oauth.error}: ${oauth.error_description}` : `HTTP ${status}`);
    this.name = "RosterError";
  }

  /** The problem's `code`, to switch on. */
  get code(): ErrorCode | undefined {
    return this.problem?.code;
  }
}

export interface RosterClientOptions {
  /** Where roster answers, e.g. `https://roster.example.com`. */
  baseUrl: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Refresh the access token this many seconds before it expires (default 30). */
  refreshMarginSeconds?: number;
}

interface Session {
  accessToken: string;
  refreshToken: string | undefined;
  expiresAt: number;
}

type CustomerUserFilters = NonNullable<
  paths["/v1/customers/{customer_id}/users"]["get"]["parameters"]["query"]
>;
type AuditFilters = NonNullable<paths["/v1/audit-events"]["get"]["parameters"]["query"]>;

export class RosterClient {
  /** The generated, fully typed client: every operation of the document. */
  readonly api: Client<paths>;
  private session: Session | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly margin: number;

  constructor(private readonly options: RosterClientOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.margin = options.refreshMarginSeconds ?? 30;
    this.api = createClient<paths>({ baseUrl: options.baseUrl, fetch: this.fetchImpl });
    this.api.use(this.authorize());
  }

  /** Sign in with an email and password (form-encoded, as RFC 6749 has it). */
  async signIn(email: string, password: string): Promise<TokenResponse> {
    return this.grant(new URLSearchParams({ grant_type: "password", username: email, password }));
  }

  /** Sign in as an API client, with HTTP Basic (RFC 6749 §2.3.1). */
  async signInClient(clientId: string, clientSecret: string): Promise<TokenResponse> {
    const basic = btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`);
    return this.grant(new URLSearchParams({ grant_type: "client_credentials" }), `Basic ${basic}`);
  }

  /** Trade the refresh token for a new pair (the old one stops working). */
  async refresh(): Promise<TokenResponse> {
    const refreshToken = this.session?.refreshToken;
    if (!refreshToken) {
      throw new Error("no refresh token: sign in first");
    }
    return this.grant(new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }));
  }

  /** Revoke the refresh token (and its family) and forget the session. */
  async signOut(): Promise<void> {
    const refreshToken = this.session?.refreshToken;
    this.session = undefined;
    if (refreshToken) {
      await this.api.POST("/v1/auth/revoke", {
        body: { token: refreshToken },
        bodySerializer: (body) => new URLSearchParams({ token: body.token }),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      });
    }
  }

  /** Every user of a customer, page after page. */
  customerUsers(customerId: string, filters: Omit<CustomerUserFilters, "cursor"> = {}): AsyncGenerator<CustomerUser> {
    return paginate((cursor) =>
      this.api.GET("/v1/customers/{customer_id}/users", {
        params: { path: { customer_id: customerId }, query: { ...filters, ...(cursor ? { cursor } : {}) } },
      }),
    );
  }

  /** Every audit event the caller may see, newest first. */
  auditEvents(filters: Omit<AuditFilters, "cursor"> = {}): AsyncGenerator<AuditEvent> {
    return paginate((cursor) =>
      this.api.GET("/v1/audit-events", { params: { query: { ...filters, ...(cursor ? { cursor } : {}) } } }),
    );
  }

  /** User Info, with the ETag to edit it. */
  async getUser(userId: string): Promise<Tagged<User>> {
    return tagged(await this.api.GET("/v1/users/{user_id}", { params: { path: { user_id: userId } } }));
  }

  /** Set a user's status, only if nobody changed them since `user` was read. */
  async setUserStatus(
    user: Tagged<User>,
    body: Schemas["SetStatus"],
  ): Promise<Tagged<User>> {
    return tagged(
      await this.api.PUT("/v1/users/{user_id}/status", {
        params: { path: { user_id: user.data.id }, header: { "If-Match": user.etag } },
        body,
      }),
    );
  }

  /** Edit a user's profile, only if nobody changed them since `user` was read. */
  async updateUser(user: Tagged<User>, body: Schemas["UpdateUser"]): Promise<Tagged<User>> {
    return tagged(
      await this.api.PATCH("/v1/users/{user_id}", {
        params: { path: { user_id: user.data.id }, header: { "If-Match": user.etag } },
        body,
      }),
    );
  }

  /** Add a user to a customer; the membership comes with its ETag. */
  async addCustomerUser(
    customerId: string,
    body: Schemas["AddCustomerUser"],
  ): Promise<Tagged<CustomerUser>> {
    return tagged(
      await this.api.POST("/v1/customers/{customer_id}/users", {
        params: { path: { customer_id: customerId } },
        body,
      }),
    );
  }

  /** Change a membership's role or settings, only if unchanged since `member` was read. */
  async updateCustomerUser(
    customerId: string,
    member: Tagged<CustomerUser>,
    body: Schemas["UpdateMembership"],
  ): Promise<Tagged<CustomerUser>> {
    return tagged(
      await this.api.PATCH("/v1/customers/{customer_id}/users/{user_id}", {
        params: { path: { customer_id: customerId, user_id: member.data.id }, header: { "If-Match": member.etag } },
        body,
      }),
    );
  }

  private async grant(form: URLSearchParams, authorization?: string): Promise<TokenResponse> {
    const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
    if (authorization) {
      headers["Authorization"] = authorization;
    }
    const response = await this.fetchImpl(new URL("/v1/auth/token", this.options.baseUrl), {
      method: "POST",
      headers,
      body: form,
    });
    const body: unknown = await response.json();
    if (!response.ok) {
      throw errorOf(response, body);
    }
    const tokens = body as TokenResponse;
    this.session = {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: Date.now() + tokens.expires_in * 1000,
    };
    return tokens;
  }

  private authorize(): Middleware {
    return {
      onRequest: async ({ request, schemaPath }) => {
        if (schemaPath.startsWith("/v1/auth/") || !this.session) {
          return request;
        }
        if (this.session.refreshToken && Date.now() > this.session.expiresAt - this.margin * 1000) {
          this.refreshing ??= this.refresh()
            .then(() => undefined)
            .finally(() => {
              this.refreshing = undefined;
            });
          await this.refreshing;
        }
        request.headers.set("Authorization", `Bearer ${this.session.accessToken}`);
        return request;
      },
    };
  }
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

function errorOf(response: Response, body: unknown): RosterError {
  const object = typeof body === "object" && body !== null ? body : undefined;
  const problem = object && "code" in object && "status" in object ? (object as Problem) : undefined;
  const oauth = object && "error" in object ? (object as OAuthError) : undefined;
  return new RosterError(response.status, problem, oauth);
}

/** The data of a successful answer, or a thrown [`RosterError`]. */
export function unwrap<T>(answer: Answer<T>): T {
  if (answer.error !== undefined || answer.data === undefined) {
    throw errorOf(answer.response, answer.error);
  }
  return answer.data;
}

function tagged<T>(answer: Answer<T>): Tagged<T> {
  const data = unwrap(answer);
  const etag = answer.response.headers.get("ETag");
  if (!etag) {
    throw new Error(`${answer.response.url} answered without an ETag`);
  }
  return { data, etag };
}

interface PageOf<T> {
  items: T[];
  next_cursor: string | null;
}

async function* paginate<T>(
  fetchPage: (cursor: string | undefined) => Promise<Answer<PageOf<T>>>,
): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = unwrap(await fetchPage(cursor));
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}
