import {
  BlobSASPermissions,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
  type BlobServiceClient,
  type BlobSASSignatureValues,
  type UserDelegationKey,
} from "@azure/storage-blob";
import type { AppConfig } from "../config.js";

/**
 * Signs SAS URLs: with the account key where there is one (Azurite, connection strings), and with a user
 * delegation key under a managed identity (Azure), chosen by SAS_SIGNING. Callers ask for the least
 * rights and the shortest expiry their use needs.
 */
export interface SasSigner {
  containerUrl(container: string, permissions: string, expiresOn: Date): Promise<string>;
  blobUrl(container: string, blobName: string, permissions: string, expiresOn: Date, options?: { contentDisposition?: string }): Promise<string>;
}

/**
 * The service version of user delegation SAS. The SDK signs with its newest by default (2026-04-06 in
 * @azure/storage-blob 12.32, whose string-to-sign gained fields); pinned to one that Azure and the
 * Azurite the tests run (3.35, up to 2025-11-05) both verify, so the managed-identity test checks the
 * very signatures Azure gets. Raise it together with Azurite.
 */
export const USER_DELEGATION_SAS_VERSION = "2025-11-05";

/** Starts a few minutes back so a client whose clock runs behind can use the link at once. */
const startsOn = () => new Date(Date.now() - 5 * 60_000);

function parseConnectionString(connectionString: string): Record<string, string> {
  return Object.fromEntries(
    connectionString
      .split(";")
      .filter((part) => part.includes("="))
      .map((part) => [part.slice(0, part.indexOf("=")), part.slice(part.indexOf("=") + 1)]),
  );
}

type Signer = (values: BlobSASSignatureValues) => Promise<string>;

/** Both signing modes build the same signature values; only the key that signs them differs. */
function signerWith(blobService: BlobServiceClient, sign: Signer): SasSigner {
  const protocol = blobService.url.startsWith("https:") ? SASProtocol.Https : SASProtocol.HttpsAndHttp;
  return {
    async containerUrl(container, permissions, expiresOn) {
      const query = await sign({
        containerName: container,
        permissions: ContainerSASPermissions.parse(permissions),
        startsOn: startsOn(),
        expiresOn,
        protocol,
      });
      return `${blobService.getContainerClient(container).url}?${query}`;
    },
    async blobUrl(container, blobName, permissions, expiresOn, options = {}) {
      const query = await sign({
        containerName: container,
        blobName,
        permissions: BlobSASPermissions.parse(permissions),
        startsOn: startsOn(),
        expiresOn,
        protocol,
        contentDisposition: options.contentDisposition,
      });
      return `${blobService.getContainerClient(container).getBlobClient(blobName).url}?${query}`;
    },
  };
}

/**
 * The signer config.sasSigning asks for: the account key from the connection string (its absence throws), or
 * a user delegation key got with the app's identity, reused while it outlives the link (a key lasts 1 to 7 days
 * and caps the expiry of the links it signs).
 */
export function createSasSigner(config: AppConfig, blobService: BlobServiceClient): SasSigner {
  if (config.sasSigning === "accountKey") {
    const parts = parseConnectionString(config.settings.STORAGE_CONNECTION_STRING ?? "");
    if (!parts.AccountName || !parts.AccountKey) throw new Error("SAS_SIGNING=accountKey needs a connection string with AccountName and AccountKey");
    const credential = new StorageSharedKeyCredential(parts.AccountName, parts.AccountKey);
    return signerWith(blobService, async (values) => generateBlobSASQueryParameters(values, credential).toString());
  }

  const accountName = config.settings.STORAGE_ACCOUNT_NAME ?? blobService.accountName;
  let cached: { key: UserDelegationKey; validUntil: number } | undefined;
  const delegationKey = async (expiresOn: Date): Promise<UserDelegationKey> => {
    if (cached && cached.validUntil >= expiresOn.getTime()) return cached.key;
    // A delegation key lives at most 7 days; take a long one so one key serves many links.
    const keyExpiry = new Date(Math.max(expiresOn.getTime(), Date.now() + 24 * 3600_000));
    const capped = new Date(Math.min(keyExpiry.getTime(), Date.now() + 7 * 24 * 3600_000 - 60_000));
    const key = await blobService.getUserDelegationKey(startsOn(), capped);
    cached = { key, validUntil: capped.getTime() };
    return key;
  };
  return signerWith(blobService, async (values) => {
    const key = await delegationKey(values.expiresOn!);
    // A user delegation SAS stops working when its key expires, and a key lives at most 7 days (a minute
    // less here): a 7-day dropbox link says so in its `se` instead of dying a minute before it.
    const expiresOn = values.expiresOn! > key.signedExpiresOn ? key.signedExpiresOn : values.expiresOn;
    return generateBlobSASQueryParameters({ ...values, expiresOn, version: USER_DELEGATION_SAS_VERSION }, key, accountName).toString();
  });
}
