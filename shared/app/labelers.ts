/**
 * Labeler keys (`/labelers`): the list, secret rotation, revocation, expiry and scope, and the per-campaign
 * and per-labeler statistics. Keys live in the `users` table (shared/auth.ts); statistics are counted in
 * the campaigns' count rows (shared/domain/campaignStats.ts) and only summed here.
 */
import type { Principal, UserRow } from "../auth.js";
import { ratio, statsOf, type CampaignStats } from "../domain/campaignStats.js";
import { keyState, parseTimestamp, type LabelerUpdate } from "../domain/labelers.js";
import { pageOffset, type PageRequest } from "../domain/pagination.js";
import { contractTimestamp } from "../domain/time.js";
import { conflict, notFound } from "../errors.js";
import type { Services } from "../services.js";
import type { BucketCounts } from "../storage/buckets.js";
import { mapLimit } from "../util/concurrency.js";
import { getCampaign } from "./campaigns.js";

/** A stored time as the contract's timestamp (user rows hold plain ISO strings), or null when unset. */
function timestamp(value: string | undefined | null): string | null {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? contractTimestamp(new Date(ms)) : null;
}

/** How the API shows a labeler key. */
export function labelerView(apikey: string, email: string, createdAt: string, user: UserRow | undefined, campaigns: number[]) {
  return {
    apikey,
    email,
    campaigns: [...campaigns].sort((a, b) => a - b),
    date_created: timestamp(user?.createdAt ?? createdAt),
    last_used: timestamp(user?.lastUsedAt),
    revoked: timestamp(user?.revokedAt),
    expires_at: timestamp(user?.expiresAt),
    // `active`, `revoked` or `expired`; `pending` for a key whose secret was never issued (its campaign's request died).
    status: user ? keyState(user, Date.now()) : "pending",
  };
}

/** A page of labelers in order of creation, each with its scope and key state (a few reads per labeler on the page, never a scan). */
export async function labelersPage(services: Services, page: PageRequest) {
  const [total, entries] = await Promise.all([services.users.labelerCount(), services.users.labelerPage(pageOffset(page), page.perPage)]);
  const labelers = await mapLimit(entries, 8, async (entry) => {
    const [user, campaigns] = await Promise.all([services.users.getUser(entry.apikey), services.users.campaignsOf(entry.apikey)]);
    return labelerView(entry.apikey, entry.email, entry.createdAt, user, campaigns);
  });
  return { total, labelers };
}

/**
 * The labeler key a principal addresses: admins any labeler key (an admin's key is a 409: admin keys are
 * not managed here), a labeler only its own when `self` allows it. Any other key looks absent to a
 * labeler (404, as an unknown one), so existence never leaks.
 */
async function labelerFor(services: Services, principal: Principal, apikey: string, self: boolean): Promise<UserRow> {
  const absent = () => notFound("no labeler has this key");
  if (principal.role !== "image-admin" && (!self || principal.apikey !== apikey)) throw absent();
  const user = await services.users.getUser(apikey);
  if (!user) throw absent();
  if (user.role !== "labeler") throw conflict(`this is an ${user.role} key; admin keys are not managed through /labelers (use npm run create-admin)`);
  return user;
}

async function viewOf(services: Services, apikey: string, user: UserRow) {
  return labelerView(apikey, user.email, user.createdAt, user, await services.users.campaignsOf(apikey));
}

/** `POST /labelers/{apikey}/secret`: a new secret, answered once; the old one fails on the next request, on every instance. */
export async function rotateLabelerSecret(services: Services, principal: Principal, apikey: string) {
  await labelerFor(services, principal, apikey, true);
  return { apikey, apisecret: await services.users.rotateSecret(apikey) };
}

/** `DELETE /labelers/{apikey}`: revokes the key (kept and listed, with the time; 401 on every request from now on). Repeating it keeps the first time. */
export async function revokeLabeler(services: Services, principal: Principal, apikey: string) {
  await labelerFor(services, principal, apikey, false);
  const user = await services.users.updateUser(apikey, (current) => (current.revokedAt ? null : { revokedAt: contractTimestamp() }));
  return viewOf(services, apikey, user!);
}

/** `PATCH /labelers/{apikey}`: sets or clears `expires_at`, and revokes or restores the key. */
export async function updateLabeler(services: Services, principal: Principal, apikey: string, update: LabelerUpdate) {
  await labelerFor(services, principal, apikey, false);
  const user = await services.users.updateUser(apikey, (current) => {
    const fields: Partial<Pick<UserRow, "revokedAt" | "expiresAt">> = {};
    if (update.expires_at !== undefined) fields.expiresAt = update.expires_at === null ? "" : parseTimestamp(update.expires_at)!;
    if (update.revoked === false && current.revokedAt) fields.revokedAt = "";
    if (update.revoked === true && !current.revokedAt) fields.revokedAt = contractTimestamp();
    return Object.keys(fields).length ? fields : null;
  });
  return viewOf(services, apikey, user!);
}

/** `DELETE /labelers/{apikey}/campaigns/{campaignId}`: the campaign leaves the key's scope (404 for an unknown campaign; a campaign not in scope is already out). */
export async function removeLabelerCampaign(services: Services, principal: Principal, apikey: string, campaignId: number) {
  const user = await labelerFor(services, principal, apikey, false);
  await getCampaign(services, campaignId);
  await services.users.revokeCampaign(apikey, campaignId);
  return viewOf(services, apikey, user);
}

/** The count rows of some campaigns, read anew (one range read per bucket of each: exact, not the summary). */
async function countRowsOf(services: Services, campaignIds: number[]): Promise<BucketCounts[]> {
  const perCampaign = await mapLimit(campaignIds, 4, async (id) => [...(await services.campaigns.images(id).exactCounts()).values()]);
  return perCampaign.flat();
}

/** How the API shows statistics (see the README's "Statistics" for each field's definition). */
export function statsView(stats: CampaignStats) {
  return {
    images: stats.images,
    images_submitted: stats.imagesSubmitted,
    submissions: stats.submissions,
    objects: stats.objects,
    objects_per_image: ratio(stats.objects, stats.submissions),
    approved: stats.approved,
    rejected: stats.rejected,
    reviews: { approved: stats.approvals, rejected: stats.rejections },
    rejection_rate: ratio(stats.rejections, stats.approvals + stats.rejections),
    first_activity: stats.firstActivity === null ? null : contractTimestamp(new Date(stats.firstActivity)),
    last_activity: stats.lastActivity === null ? null : contractTimestamp(new Date(stats.lastActivity)),
    submissions_per_day: stats.perDay,
    submissions_before_days: stats.folded,
  };
}

/**
 * `GET /campaigns/{id}/stats`: admins any campaign; a labeler a campaign in its scope (in any status: the
 * numbers stay its own after access to the images ended), others look absent (404).
 */
export async function campaignStats(services: Services, principal: Principal, campaignId: number) {
  if (principal.role !== "image-admin" && !(await services.users.hasCampaign(principal.apikey, campaignId)))
    throw notFound(`campaign ${campaignId} does not exist`);
  await getCampaign(services, campaignId);
  return { campaign_id: campaignId, ...statsView(statsOf(await countRowsOf(services, [campaignId]))) };
}

/**
 * `GET /labelers/{apikey}/stats`: the sum over the campaigns in the key's scope now (a campaign removed from
 * its scope leaves its numbers, which stay in that campaign's own statistics). Admins any labeler, a
 * labeler itself.
 */
export async function labelerStats(services: Services, principal: Principal, apikey: string) {
  const user = await labelerFor(services, principal, apikey, true);
  const campaignIds = (await services.users.campaignsOf(apikey)).sort((a, b) => a - b);
  return { apikey, email: user.email, campaigns: campaignIds, ...statsView(statsOf(await countRowsOf(services, campaignIds))) };
}
