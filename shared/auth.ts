import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import type { TableClient } from "@azure/data-tables";
import { forbidden, unauthorized } from "./errors.js";
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

const userPk = (apikey: string) => `key!${encodeKey(apikey)}`;
const emailPk = (email: string) => `email!${createHash("sha256").update(email.trim().toLowerCase()).digest("hex")}`;
const scopePk = (apikey: string) => `scope!${encodeKey(apikey)}`;

interface UserRow {
  role: Role;
  email: string;
  secretHash: string;
  createdAt: string;
}

/** Users, their hashed secrets and labelers' campaign scopes, in the `users` table. */
export class UserStore {
  constructor(private readonly table: TableClient) {}

  async authenticate(headers: Headers): Promise<Principal> {
    const apikey = headers.get("authentication-key");
    const secret = headers.get("authentication-secret");
    if (!apikey || !secret) throw unauthorized("Authentication-Key and Authentication-Secret headers are required");
    const user = await this.getUser(apikey);
    const ok = user ? await verifyCached(secret, user.secretHash) : await verifySecret(secret, await unknownKeyHash()).then(() => false);
    if (!user || !ok) throw unauthorized("unknown Authentication-Key or wrong Authentication-Secret");
    return { apikey, role: user.role, email: user.email };
  }

  async getUser(apikey: string): Promise<UserRow | undefined> {
    if (apikey.length > 256) return undefined;
    return readRow<UserRow>(this.table, userPk(apikey), "user");
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
    for (let attempt = 0; attempt < 5; attempt++) {
      const index = await this.getEmailIndex(email);
      if (index) {
        const user = await this.getUser(index.apikey);
        if (user && user.role !== "labeler") throw forbidden(`${email} belongs to an ${user.role} user and cannot be issued a labeler key`);
        return { apikey: index.apikey, reserved: false, needsSecret: !user };
      }
      const apikey = newApiKey();
      try {
        await this.table.createEntity({ partitionKey: emailPk(email), rowKey: "user", apikey, email });
        return { apikey, reserved: true, needsSecret: true };
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    throw new Error(`could not reserve a labeler key for ${email}`);
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
    try {
      await this.table.createEntity({
        partitionKey: userPk(apikey),
        rowKey: "user",
        role: "labeler",
        email,
        secretHash: await hashSecret(secret),
        createdAt: new Date().toISOString(),
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
    const ids: number[] = [];
    for await (const row of this.table.listEntities<{ campaignId: number }>({ queryOptions: { filter: `PartitionKey eq '${scopePk(apikey)}'` } })) {
      ids.push(Number(row.campaignId));
    }
    return ids;
  }

  private getEmailIndex(email: string): Promise<{ apikey: string } | undefined> {
    return readRow<{ apikey: string }>(this.table, emailPk(email), "user");
  }
}

/** Refuses (403) any principal that is not an `image-admin`; admin routes call it after authenticating. */
export function requireAdmin(principal: Principal): void {
  if (principal.role !== "image-admin") throw forbidden("this route needs an image-admin key");
}
