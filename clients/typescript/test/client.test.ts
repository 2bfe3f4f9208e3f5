// The client against the real roster binary: `npm test` expects ROSTER_URL,
// ROSTER_ADMIN_EMAIL and ROSTER_ADMIN_PASSWORD (scripts/client-tests.sh
// starts the server and sets them).
import assert from "node:assert/strict";
import { test } from "node:test";

import { RosterClient, RosterError, unwrap, type CustomerUser } from "../src/index.js";

const baseUrl = required("ROSTER_URL");
const adminEmail = required("ROSTER_ADMIN_EMAIL");
const adminPassword = required("ROSTER_ADMIN_PASSWORD");

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

async function signedIn(): Promise<RosterClient> {
  const client = new RosterClient({ baseUrl });
  await client.signIn(adminEmail, adminPassword);
  return client;
}

const run = Date.now().toString(36);

test("a wrong password is an invalid_grant the client can switch on", async () => {
  const client = new RosterClient({ baseUrl });
  await assert.rejects(client.signIn(adminEmail, "not the password"), (err: unknown) => {
    assert.ok(err instanceof RosterError);
    assert.equal(err.status, 400);
    assert.equal(err.oauth?.error, "invalid_grant");
    return true;
  });
});

test("an admin creates a customer, adds users and pages through them", async () => {
  const client = await signedIn();
  const customer = unwrap(
    await client.api.POST("/v1/customers", { body: { name: `UBM Demo ${run}`, licensed_seats: 10 } }),
  );
  assert.equal(customer.named_users, 0);

  const emails = ["dana.whitfield", "marcus.lee", "priya.natarajan"].map((name) => `${name}.${run}@ubm-demo.example`);
  for (const [i, email] of emails.entries()) {
    const added = unwrap(
      await client.api.POST("/v1/customers/{customer_id}/users", {
        params: { path: { customer_id: customer.id } },
        body: { email, first_name: "Test", last_name: `User ${i}`, role: "standard_user", send_invite: false },
      }),
    );
    assert.equal(added.status, "invited");
  }

  // Two per page, so the iterator has to follow next_cursor.
  const seen: CustomerUser[] = [];
  for await (const user of client.customerUsers(customer.id, { limit: 2 })) {
    seen.push(user);
  }
  assert.deepEqual(seen.map((u) => u.email).sort(), [...emails].sort());

  const page = unwrap(
    await client.api.GET("/v1/customers/{customer_id}/users", {
      params: { path: { customer_id: customer.id }, query: { limit: 2 } },
    }),
  );
  assert.equal(page.items.length, 2);
  assert.ok(page.next_cursor);
});

test("a status change with If-Match succeeds once and a stale ETag is precondition_failed", async () => {
  const client = await signedIn();
  const customer = unwrap(await client.api.POST("/v1/customers", { body: { name: `Ungerboeck ${run}` } }));
  const added = unwrap(
    await client.api.POST("/v1/customers/{customer_id}/users", {
      params: { path: { customer_id: customer.id } },
      body: { email: `jo.okafor.${run}@ungerboeck.example`, first_name: "Jo", last_name: "Okafor", send_invite: false },
    }),
  );
  const read = await client.getUser(added.id);
  const inactive = await client.setUserStatus(read, { status: "inactive", requester_name: "Pat Morgan" });
  assert.equal(inactive.data.status, "inactive");
  assert.notEqual(inactive.etag, read.etag);

  await assert.rejects(client.setUserStatus(read, { status: "active" }), (err: unknown) => {
    assert.ok(err instanceof RosterError);
    assert.equal(err.status, 412);
    assert.equal(err.code, "precondition_failed");
    return true;
  });

  const active = await client.setUserStatus(inactive, { status: "active" });
  assert.equal(active.data.status, "invited", "a user who never set a password goes back to invited");

  const events = [];
  for await (const event of client.auditEvents({ user_id: added.id, action: "user.status_changed" })) {
    events.push(event);
  }
  assert.equal(events.length, 2);
  const latest = events[0];
  assert.ok(latest);
  assert.deepEqual(latest.changes["status"], { before: "inactive", after: "invited" });
  assert.equal(events[1]?.requester_name, "Pat Morgan");
});

test("a membership edit round-trips its ETag", async () => {
  const client = await signedIn();
  const customer = unwrap(await client.api.POST("/v1/customers", { body: { name: `Momentus ${run}` } }));
  const member = await client.addCustomerUser(customer.id, {
    email: `priya.natarajan.${run}@momentus.example`,
    first_name: "Priya",
    last_name: "Natarajan",
    role: "standard_user",
    send_invite: false,
  });
  const admin = await client.updateCustomerUser(customer.id, member, { role: "admin" });
  assert.equal(admin.data.role, "admin");
  await assert.rejects(
    client.updateCustomerUser(customer.id, member, { role: "full_access" }),
    (err: unknown) => err instanceof RosterError && err.code === "precondition_failed",
  );
});

test("an unknown user is a typed not_found problem", async () => {
  const client = await signedIn();
  await assert.rejects(client.getUser("00000000-0000-4000-8000-000000000000"), (err: unknown) => {
    assert.ok(err instanceof RosterError);
    assert.equal(err.code, "not_found");
    return true;
  });
});

test("the session refreshes itself before the token expires, and signs out", async () => {
  const grants: string[] = [];
  const recording: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : input.toString();
    if (url.endsWith("/v1/auth/token")) {
      grants.push(new URLSearchParams(String(init?.body)).get("grant_type") ?? "");
    }
    return fetch(input, init);
  };
  // A margin longer than the token's life: every call refreshes first.
  const client = new RosterClient({ baseUrl, fetch: recording, refreshMarginSeconds: 24 * 3600 });
  await client.signIn(adminEmail, adminPassword);
  const me = unwrap(await client.api.GET("/v1/me"));
  assert.equal(me.email, adminEmail);
  assert.deepEqual(grants, ["password", "refresh_token"]);
  await client.signOut();
  await assert.rejects(client.refresh(), /sign in first/);
});

test("a call without a token is a typed unauthorized problem", async () => {
  await assert.rejects(
    new RosterClient({ baseUrl }).api.GET("/v1/me").then(unwrap),
    (err: unknown) => err instanceof RosterError && err.status === 401 && err.code === "unauthorized",
  );
});
