import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { odata, type TableClient, type TableEntityResult } from "@azure/data-tables";
import { keyState, lastUseDue } from "./domain/labelers.js";
import { contractTimestamp } from "./domain/time.js";
import { conflict, forbidden, unauthorized } from "./errors.js";
import { DenseList, type Row } from "./storage/denseList.js";
import { queryAll } from "./storage/queries.js";
import { retryOnConflict } from "./storage/retry.js";
import { readRow } from "./storage/rows.js";
import { encodeKey, isConflict, isNotFound, pad } from "./storage/tableErrors.js";

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number }) => Promise<Buffer>;

export const ROLES = ["image-admin", "labeler"] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who a request authenticated as (UserStore.authenticate): the key it signed with, the key's role and its
 * user's e-mail. Public routes get an empty one (no key or e-mail, role `labeler`).
 */
export interface Principal {
  apikey: string;
  role: Role;
  email: string;
}

const SCRYPT = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;

/** `scrypt$N$r$p$salt$hash`, base64 parts: the parameters travel with the hash so they can be raised later. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, KEY_LENGTH, SCRYPT);
  return ["scrypt", SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString("base64"), hash.toString("base64")].join("$");
}

/** Whether `secret` matches a stored `scrypt$N$r$p$salt$hash`, compared in constant time (slow on purpose: callers use the cache). */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = await scrypt(secret, Buffer.from(salt, "base64"), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A fresh random API key: 32 hex characters (128 bits). */
export const newApiKey = () => randomBytes(16).toString("hex");
/** A fresh random secret: 32 hex characters (128 bits); only its scrypt hash is stored, so it is shown once. */
export const newApiSecret = () => randomBytes(16).toString("hex");

/**
 * Successful verifications, remembered for a few minutes so that a partner sending thousands of batches
 * does not pay a deliberately slow scrypt on each. The entry is keyed by the stored hash too, so a
 * changed secret misses at once. It is a cache of a pure function, not state: losing it costs only time.
 */
const verified = new Map<string, number>();
const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 10_000;

async function verifyCached(secret: string, stored: string): Promise<boolean> {
  const cacheKey = createHash("sha256").update(secret).update("\0").update(stored).digest("base64");
  const until = verified.get(cacheKey);
  if (until !== undefined && until > Date.now()) return true;
  const ok = await verifySecret(secret, stored);
  if (ok) {
    if (verified.size >= VERIFIED_MAX) verified.clear();
    verified.set(cacheKey, Date.now() + VERIFIED_TTL_MS);
  }
  return ok;
}

/**
 * A hash of a secret nobody knows, verified against when a key is unknown, so an unknown key costs the
 * same scrypt as a wrong secret and the answer's timing does not tell which keys exist.
 */
let dummyHash: Promise<string> | undefined;
const unknownKeyHash = () => (dummyHash ??= hashSecret(randomBytes(16).toString("hex")));

const USER_PREFIX = "key!";
const userPk = (apikey: string) => `${USER_PREFIX}${encodeKey(apikey)}`;
const emailPk = (email: string) => `email!${createHash("sha256").update(email.trim().toLowerCase()).digest("hex")}`;
const scopePk = (apikey: string) => `scope!${encodeKey(apikey)}`;
/** The labelers index: a dense list (one row per labeler key, in order of creation) for `GET /labelers`. */
const LABELERS_PK = "labelers";
/** In the index partition: written once every labeler created before the index existed has been indexed. */
const BACKFILLED_ROW = "backfilled";

/** A user as stored in its `key!<apikey>` partition (row `user`); lifecycle fields are empty until set. */
export interface UserRow {
  role: Role;
  email: string;
  secretHash: string;
  createdAt: string;
  /** When the key was revoked (contract timestamp), empty or absent while it is not. */
  revokedAt?: string;
  /** When the key stops working (contract timestamp), empty or absent for never. */
  expiresAt?: string;
  /** The last request this key signed that was not refused, written at most about once a minute. */
  lastUsedAt?: string;
}

/** One entry of the labelers index: the key and what it was created with (the user row has the rest). */
export interface LabelerIndexEntry {
  apikey: string;
  email: string;
  createdAt: string;
}

/** Users, their hashed secrets and labelers' campaign scopes, in the `users` table. */
export class UserStore {
  private readonly labelers: DenseList;
  /** The user row's ETag for principals whose request should record the key's last use (see recordUse). */
  private readonly lastUseDue = new WeakMap<Principal, string>();

  constructor(private readonly table: TableClient) {
    this.labelers = new DenseList(table, LABELERS_PK, "lab");
  }

  /**
   * The principal a request's headers sign in as. 401 for a missing pair, an unknown key, a wrong secret,
   * and a key that is revoked or past its `expires_at`: checked on every request against the user row read
   * for it, so a revocation takes effect on every instance at once. A changed secret does too: the
   * verification cache is keyed by the stored hash, which a rotation replaces.
   */
  async authenticate(headers: Headers): Promise<Principal> {
    const apikey = headers.get("authentication-key");
    const secret = headers.get("authentication-secret");
    if (!apikey || !secret) throw unauthorized("Authentication-Key and Authentication-Secret headers are required");
    const user = await this.getUser(apikey);
    const ok = user ? await verifyCached(secret, user.secretHash) : await verifySecret(secret, await unknownKeyHash()).then(() => false);
    if (!user || !ok) throw unauthorized("unknown Authentication-Key or wrong Authentication-Secret");
    const now = Date.now();
    const state = keyState(user, now);
    if (state === "revoked") throw unauthorized("this Authentication-Key was revoked");
    if (state === "expired") throw unauthorized(`this Authentication-Key expired at ${user.expiresAt}`);
    const principal: Principal = { apikey, role: user.role, email: user.email };
    if (lastUseDue(user.lastUsedAt, now)) this.lastUseDue.set(principal, user.etag);
    return principal;
  }

  /**
   * Records that the principal's key was used, when authenticate found it due (never written, or a minute
   * or more ago). The HTTP layer calls it once a request was answered without being refused, so a refused
   * request still leaves storage as it was. A conditional write under the ETag authenticate read: of
   * concurrent requests one writes and the others do nothing. A failure is ignored: the time is advisory
   * and never fails the request it describes.
   */
  async recordUse(principal: Principal): Promise<void> {
    const etag = this.lastUseDue.get(principal);
    if (etag === undefined) return;
    this.lastUseDue.delete(principal);
    try {
      await this.table.updateEntity({ partitionKey: userPk(principal.apikey), rowKey: "user", lastUsedAt: contractTimestamp() }, "Merge", { etag });
    } catch {
      // Another request wrote it first (412), the user row changed, or storage failed: the next request tries again.
    }
  }

  /** The user row of a key (with its ETag), or undefined for an unknown key. */
  async getUser(apikey: string): Promise<TableEntityResult<UserRow> | undefined> {
    if (apikey.length > 256) return undefined;
    return readRow<UserRow>(this.table, userPk(apikey), "user");
  }

  /**
   * Changes a user row under its ETag, retrying on concurrent writes; `change` returns the fields to merge,
   * or null to leave it. Answers the row after the change, or undefined for an unknown key.
   */
  async updateUser(
    apikey: string,
    change: (user: UserRow) => Partial<Pick<UserRow, "secretHash" | "revokedAt" | "expiresAt">> | null,
  ): Promise<UserRow | undefined> {
    return retryOnConflict(`user ${apikey.slice(0, 12)}`, async () => {
      const user = await this.getUser(apikey);
      if (!user) return undefined;
      const fields = change(user);
      if (!fields) return user;
      await this.table.updateEntity({ partitionKey: userPk(apikey), rowKey: "user", ...fields }, "Merge", { etag: user.etag });
      return { ...user, ...fields };
    });
  }

  /** Gives a labeler key a new secret (its hash replaces the old one, so the old secret fails at once); returns the secret, this once. */
  async rotateSecret(apikey: string): Promise<string> {
    const secret = newApiSecret();
    const secretHash = await hashSecret(secret);
    const user = await this.updateUser(apikey, () => ({ secretHash }));
    if (!user) throw new Error(`user ${apikey.slice(0, 12)} vanished while its secret was rotated`);
    return secret;
  }

  /** Takes a campaign out of a key's scope: its routes then answer the key as for a campaign never in scope. */
  async revokeCampaign(apikey: string, campaignId: number): Promise<void> {
    try {
      await this.table.deleteEntity(scopePk(apikey), pad(campaignId));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** The number of labelers in the index (after the one-off backfill, see labelerPage). */
  async labelerCount(): Promise<number> {
    await this.backfillIndex();
    return this.labelers.count();
  }

  /** Labelers [offset, offset + limit) of the index, in order of creation. */
  async labelerPage(offset: number, limit: number): Promise<LabelerIndexEntry[]> {
    await this.backfillIndex();
    const rows = await this.labelers.range(offset, limit);
    return rows.map((row) => ({ apikey: String(row.apikey), email: String(row.email), createdAt: String(row.createdAt) }));
  }

  /** Adds a labeler to the index (once per key; safe to repeat and to race). */
  private async indexLabeler(apikey: string, email: string, createdAt: string): Promise<void> {
    await this.labelers.append(encodeKey(apikey), { apikey, email, createdAt });
  }

  /**
   * One-off indexing of labelers created before the index existed: the first listing finds the index not
   * marked `backfilled`, reads the user rows of the `key!` partitions (one bounded range of the table: a
   * row per user; the e-mail and scope partitions sort outside it), indexes every labeler in order of
   * creation, then marks the index. Idempotent (each key is indexed once) and safe to race or to
   * interrupt: an interrupted run leaves no mark and the next listing runs it again. Labelers created since
   * are indexed when they are created (issueSecret), so this never runs again.
   */
  private async backfillIndex(): Promise<void> {
    if (await readRow(this.table, LABELERS_PK, BACKFILLED_ROW)) return;
    const end = USER_PREFIX.slice(0, -1) + String.fromCharCode(USER_PREFIX.charCodeAt(USER_PREFIX.length - 1) + 1);
    const rows = await queryAll(this.table, odata`PartitionKey gt ${USER_PREFIX} and PartitionKey lt ${end} and RowKey eq 'user' and role eq 'labeler'`, [
      "PartitionKey",
      "email",
      "createdAt",
    ]);
    const found = rows
      .map((row: Row) => ({
        apikey: Buffer.from(String(row.partitionKey).slice(USER_PREFIX.length), "base64url").toString("utf8"),
        email: String(row.email),
        createdAt: String(row.createdAt),
      }))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.apikey.localeCompare(b.apikey));
    for (const labeler of found) await this.indexLabeler(labeler.apikey, labeler.email, labeler.createdAt);
    await this.table.upsertEntity({ partitionKey: LABELERS_PK, rowKey: BACKFILLED_ROW, labelers: found.length, at: contractTimestamp() }, "Replace");
  }

  /** Creates or resets a user with the given key and secret (local admin, `create-admin`). */
  async putUser(apikey: string, secret: string, role: Role, email: string): Promise<void> {
    const existing = await this.getUser(apikey);
    if (existing && existing.role === role && existing.email === email && (await verifySecret(secret, existing.secretHash))) return;
    await this.table.upsertEntity(
      { partitionKey: userPk(apikey), rowKey: "user", role, email, secretHash: await hashSecret(secret), createdAt: new Date().toISOString() },
      "Replace",
    );
    await this.table.upsertEntity({ partitionKey: emailPk(email), rowKey: "user", apikey, email }, "Replace");
  }

  /**
   * The labeler key for an e-mail address, for a campaign about to be created. An existing labeler's key
   * comes back as it is. For a new address a key is reserved by writing the e-mail row alone (`reserved`):
   * the key cannot sign in until `issueSecret` writes its user row, which the caller does only once the
   * campaign exists; `releaseLabeler` undoes a reservation whose campaign was refused. An e-mail row
   * left without a user row by a crash is picked up again here (`needsSecret`), so no secret is lost.
   */
  async reserveLabeler(email: string): Promise<{ apikey: string; reserved: boolean; needsSecret: boolean }> {
    // Two requests for the same new address race on creating its e-mail row: the loser reads the winner's key.
    return retryOnConflict(`reserving a labeler key for ${email}`, async () => {
      const index = await this.getEmailIndex(email);
      if (index) {
        const user = await this.getUser(index.apikey);
        if (user && user.role !== "labeler") throw forbidden(`${email} belongs to an ${user.role} user and cannot be issued a labeler key`);
        // A new campaign never revives a key silently: the admin restores it first (PATCH /labelers/{apikey}).
        const state = user ? keyState(user, Date.now()) : "active";
        if (state !== "active")
          throw conflict(
            `the labeler key of ${email} is ${state}; restore it first (PATCH /labelers/{apikey} with ${state === "revoked" ? '{"revoked": false}' : '{"expires_at": null} or a later time'}), then create the campaign`,
            { apikey: index.apikey },
          );
        return { apikey: index.apikey, reserved: false, needsSecret: !user };
      }
      const apikey = newApiKey();
      await this.table.createEntity({ partitionKey: emailPk(email), rowKey: "user", apikey, email });
      return { apikey, reserved: true, needsSecret: true };
    });
  }

  /** Drops a reservation whose campaign was not created (only while the key has no user row). */
  async releaseLabeler(email: string, apikey: string): Promise<void> {
    const index = await this.getEmailIndex(email);
    if (index?.apikey !== apikey || (await this.getUser(apikey))) return;
    try {
      await this.table.deleteEntity(emailPk(email), "user");
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /**
   * Issues a reserved labeler's secret: writes its user row (hash only) and returns the secret, this once.
   * Two requests racing for the same new address: the first one's row stands, the other gets null.
   */
  async issueSecret(apikey: string, email: string): Promise<string | null> {
    const secret = newApiSecret();
    const createdAt = new Date().toISOString();
    // Indexed first, so a crash between the two writes leaves an indexed key that the next campaign for the
    // address issues (reserveLabeler finds it without a user row), never a labeler missing from the list.
    await this.indexLabeler(apikey, email, createdAt);
    try {
      await this.table.createEntity({
        partitionKey: userPk(apikey),
        rowKey: "user",
        role: "labeler",
        email,
        secretHash: await hashSecret(secret),
        createdAt,
      });
      return secret;
    } catch (error) {
      if (isConflict(error)) return null;
      throw error;
    }
  }

  async grantCampaign(apikey: string, campaignId: number): Promise<void> {
    await this.table.upsertEntity({ partitionKey: scopePk(apikey), rowKey: pad(campaignId), campaignId }, "Replace");
  }

  async hasCampaign(apikey: string, campaignId: number): Promise<boolean> {
    try {
      await this.table.getEntity(scopePk(apikey), pad(campaignId));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async campaignsOf(apikey: string): Promise<number[]> {
    const rows = await queryAll(this.table, odata`PartitionKey eq ${scopePk(apikey)}`, ["campaignId"]);
    return rows.map((row) => Number(row.campaignId));
  }

  private getEmailIndex(email: string): Promise<{ apikey: string } | undefined> {
    return readRow<{ apikey: string }>(this.table, emailPk(email), "user");
  }
}

/** Refuses (403) any principal that is not an `image-admin`; admin routes call it after authenticating. */
export function requireAdmin(principal: Principal): void {
  if (principal.role !== "image-admin") throw forbidden("this route needs an image-admin key");
}
