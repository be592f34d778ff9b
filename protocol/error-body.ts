/** The body of every error answer: `{"error": {"code", "message", ...details}}`. */
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from './errors.ts';

const codes = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/** Details (the index of a bad operation, a limit, …) sit beside code and message. A client
 * meets codes it does not know as plain strings: match on the ones you handle. */
export const errorBodySchema = z.object({
  error: z.looseObject({ code: z.string(), message: z.string() }),
});
export type ErrorResponse = z.infer<typeof errorBodySchema>;

/** The codes this version of the protocol defines, with their HTTP status. */
export const errorCodeSchema = z.enum(codes);
