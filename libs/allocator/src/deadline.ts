import { StoreUnavailable, type Deadline } from '#app/store';

/** Throws StoreUnavailable (503) once the request's deadline (`ETCD_WAIT_TIMEOUT`) has passed. */
export function checkDeadline(deadline: Deadline, what: string): void {
  if (Date.now() > deadline) {
    throw new StoreUnavailable(
      `gave up on ${what}: etcd kept rejecting concurrent writes until the request's deadline`,
    );
  }
}
