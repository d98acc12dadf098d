import { BadRequestException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';

/**
 * The first failed constraint, depth first: a 400 carries one sentence, not a list
 * (docs/design.md, "A RequestAddress, end to end", step 3).
 */
export function firstMessage(errors: ValidationError[]): string | undefined {
  for (const error of errors) {
    const own = Object.values(error.constraints ?? {})[0];
    if (own !== undefined) {
      return own;
    }
    const nested = firstMessage(error.children ?? []);
    if (nested !== undefined) {
      return nested;
    }
  }
  return undefined;
}

/**
 * Turns every `@Body()` into its DTO, each field parsed once (ipam.dto.ts), and validates it
 * before the handler runs, so an invalid request never reaches an allocator. Unknown fields are
 * kept but ignored, since Docker may add fields in later versions.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    stopAtFirstError: true,
    forbidUnknownValues: false,
    exceptionFactory: (errors) =>
      new BadRequestException(firstMessage(errors) ?? 'invalid request body'),
  });
}
