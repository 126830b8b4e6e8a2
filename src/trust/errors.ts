/** The trust module's errors (categories from common/errors.ts). */
import { ForbiddenError, InvalidParameterError } from '../common/errors.js';

/** An image refused by the signature policy; the message names the image, its digest and the rule. */
export class PolicyRejectedError extends ForbiddenError {
  override readonly code = 'BERTH_ERR_POLICY_REJECTED';
}

/** A policy file that is not a valid containers-policy.json. */
export class InvalidPolicyError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_INVALID_POLICY';
}

/** A key file that cannot be read, or a wrong passphrase. */
export class KeyError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_TRUST_KEY';
}
