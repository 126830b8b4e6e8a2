/**
 * berth's content-trust endpoints (no Docker equivalent; #22):
 *
 * - `GET /berth/trust` — where the policy is, whether it exists, the revoked keys;
 * - `POST /berth/trust/revocations` `{"Fingerprint": "…", "Comment": "…"}` — revokes a key: from
 *   then on no signature by it satisfies the policy (`berth trust revoke`).
 */
import { InvalidParameterError } from '../../common/errors.js';
import type { ImageTrust } from '../../trust/index.js';
import { readJson, sendJson, type Router } from '../router.js';

export function registerTrustRoutes(router: Router, deps: { trust: ImageTrust }): void {
  router.on('GET', '/berth/trust', async (ctx) => {
    const { present } = await deps.trust.policy();
    const revoked = await deps.trust.revoked();
    sendJson(ctx.res, 200, { PolicyPath: deps.trust.policyPath, PolicyPresent: present, Revoked: revoked.map((k) => ({ Fingerprint: k.fingerprint, Revoked: k.revoked, ...(k.comment ? { Comment: k.comment } : {}) })) });
  });
  router.on('POST', '/berth/trust/revocations', async (ctx) => {
    const body = (await readJson(ctx.req).catch(() => undefined)) as { Fingerprint?: unknown; Comment?: unknown } | undefined;
    if (!body || typeof body.Fingerprint !== 'string') throw new InvalidParameterError('Fingerprint is required');
    if (body.Comment !== undefined && typeof body.Comment !== 'string') throw new InvalidParameterError('Comment must be a string');
    const k = await deps.trust.revoke(body.Fingerprint, body.Comment as string | undefined);
    sendJson(ctx.res, 200, { Fingerprint: k.fingerprint, Revoked: k.revoked });
  });
}
