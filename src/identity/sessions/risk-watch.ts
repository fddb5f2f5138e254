/**
 * Continuous evaluation from the risk engine: every access decision assesses its subject's risk;
 * when a user's level rises above what was last seen (low → medium, medium → high, ...), the
 * identity plane hears `risk.changed` and downgrades or revokes that user's live sessions (and
 * receivers get a CAEP risk-level-change). A fall is remembered silently, so the next rise counts.
 * A user seen for the first time sets the baseline — unless already at high or critical, which
 * acts at once (a first sight at medium, common for a new device, does not end sessions).
 *
 * It wraps the decision point's RiskAssessor and only observes: decisions are answered exactly as
 * before, and the event is emitted without the decision waiting for it.
 */
import type { RiskAssessor } from "../../policy/access/decision-point.js";
import { RISK_LEVELS, type AccessRequest, type RiskAssessment, type RiskLevel } from "../../policy/access/types.js";
import type { IdentityEvents } from "../events.js";

const MAX_SUBJECTS = 100_000;

export class RiskWatch implements RiskAssessor {
  private readonly last = new Map<string, RiskLevel>();

  constructor(
    private readonly inner: RiskAssessor,
    private readonly events: IdentityEvents,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  assessNow(req: AccessRequest, now: number): RiskAssessment | undefined {
    const a = this.inner.assessNow(req, now);
    if (a) this.observe(req.subject.id, a.level);
    return a;
  }

  prepare(req: AccessRequest): Promise<void> {
    return this.inner.prepare(req);
  }

  /** Records a user's current level; a rise is announced. */
  observe(subject: string, level: RiskLevel): void {
    if (!subject.startsWith("user:")) return;
    const seen = this.last.get(subject);
    if (seen === level) return;
    const previous = seen ?? "low";
    // Most recently seen last, so the oldest subjects are forgotten first.
    this.last.delete(subject);
    this.last.set(subject, level);
    if (this.last.size > MAX_SUBJECTS) this.last.delete(this.last.keys().next().value!);
    const rose = RISK_LEVELS.indexOf(level) > RISK_LEVELS.indexOf(previous);
    if (rose && (seen !== undefined || RISK_LEVELS.indexOf(level) >= RISK_LEVELS.indexOf("high"))) {
      this.events.emit({ type: "risk.changed", userId: subject.slice(5), previous, current: level }).catch(this.onError);
    }
  }
}
