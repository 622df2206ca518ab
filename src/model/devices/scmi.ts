/**
 * SCMI (Arm DEN0056) messages as a VMM logs them: the sensor management protocol (0x15), its
 * version (PROTOCOL_VERSION, message 0), and sensor reads answered with an error.
 */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';
import { RequestLog } from './request-log.ts';

export const SCMI_SENSOR_PROTOCOL = 0x15;
const PROTOCOL_VERSION = 0;
/** SENSOR_READING_GET */
const READING_GET = 6;

export class ScmiModel extends RequestLog {
  sensorVersion: { version: string; ref: Ref } | undefined;
  readings = 0;

  take(e: EventOf<'scmi.msg'>, ref: Ref): void {
    if (e.protocol !== SCMI_SENSOR_PROTOCOL) return;
    this.seen(ref);
    if (e.message === PROTOCOL_VERSION && e.status === 0 && e.version !== undefined) this.sensorVersion = { version: e.version, ref };
    if (e.message === READING_GET) {
      if (e.status === 0) this.readings++;
      else this.fault(ref, `SENSOR_READING_GET${e.sensor !== undefined ? ` of sensor ${e.sensor}` : ''} answered with status ${e.status}`);
    }
  }
}
