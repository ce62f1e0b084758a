import type { Principal } from "../auth.js";
import { partnerMayAccess } from "../domain/campaigns.js";
import type { CampaignRecord } from "../repos/campaigns.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";

/**
 * `GET /me`: who a key is, so the console and scripts can adapt. A labeler's scope is listed with each
 * campaign's status and progress (and whether its access has ended, once finishing was requested); an admin's
 * scope is every campaign (`campaigns: null`). The secret is never echoed.
 */
export async function whoAmI(services: Services, principal: Principal) {
  if (principal.role === "image-admin") return { apikey: principal.apikey, role: principal.role, email: principal.email, campaigns: null };
  const ids = (await services.users.campaignsOf(principal.apikey)).sort((a, b) => a - b);
  const campaigns = await mapLimit(ids, 8, async (id) => {
    const campaign = await services.campaigns.get(id);
    return campaign ? { campaign, progress: await services.campaigns.progress(id) } : undefined;
  });
  return {
    apikey: principal.apikey,
    role: principal.role,
    email: principal.email,
    campaigns: campaigns
      .filter((c): c is { campaign: CampaignRecord; progress: { done: number; total: number } } => c !== undefined)
      .map(({ campaign, progress }) => ({
        campaign_id: campaign.campaignId,
        title: campaign.title,
        status: campaign.status,
        progress,
        access_ended: !partnerMayAccess(campaign.status),
      })),
  };
}
