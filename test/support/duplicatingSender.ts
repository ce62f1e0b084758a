import type { JobBody, JobSender, JobType, SendOptions } from "../../shared/queue/messages.js";

/** Sends every job message twice (same message id): at-least-once delivery at its worst. */
export class DuplicatingSender implements JobSender {
  sent = 0;
  constructor(private readonly inner: JobSender) {}
  async send<T extends JobType>(type: T, body: JobBody<T>, options?: SendOptions): Promise<void> {
    await this.inner.send(type, body, options);
    await this.inner.send(type, body, options);
    this.sent += 2;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
