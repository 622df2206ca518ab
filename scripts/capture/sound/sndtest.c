/* sndtest: drive an ALSA PCM device through the raw kernel ioctl interface (no libasound).
 * Build: gcc -O2 -static -o sndtest sndtest.c
 * Usage: sndtest play|cap DEVNODE SECONDS PERIOD_FRAMES PERIODS [STALL_AT_MS STALL_MS]
 *   play: 48 kHz S16_LE stereo sine (440 Hz L / 660 Hz R), blocking WRITEI, DRAIN at the end.
 *   cap:  48 kHz S16_LE stereo, blocking READI, prints peak.
 *   With STALL_AT_MS/STALL_MS the program sleeps STALL_MS once, STALL_AT_MS after the first transfer,
 *   to force an under/overrun; -EPIPE is then logged and recovered with PREPARE (+ START for capture).
 * Every transfer is recorded in memory (CLOCK_MONOTONIC, return, status) and printed at the end,
 * so that console output does not perturb the timing; XRUNs are also printed immediately. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <sound/asound.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double t0;
#define LOG(...) do { printf("[sndtest %10.6f] ", now() - t0); printf(__VA_ARGS__); fflush(stdout); } while (0)

static struct snd_mask *pmask(struct snd_pcm_hw_params *p, int n) { return &p->masks[n - SNDRV_PCM_HW_PARAM_FIRST_MASK]; }
static struct snd_interval *pint(struct snd_pcm_hw_params *p, int n) { return &p->intervals[n - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL]; }
static void any(struct snd_pcm_hw_params *p) {
  memset(p, 0, sizeof *p);
  for (int n = SNDRV_PCM_HW_PARAM_FIRST_MASK; n <= SNDRV_PCM_HW_PARAM_LAST_MASK; n++) memset(pmask(p, n), 0xff, sizeof(struct snd_mask));
  for (int n = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; n <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; n++) { pint(p, n)->min = 0; pint(p, n)->max = ~0u; }
  p->rmask = ~0u;
}
static void setmask(struct snd_pcm_hw_params *p, int n, unsigned v) { struct snd_mask *m = pmask(p, n); memset(m, 0, sizeof *m); m->bits[v >> 5] = 1u << (v & 31); }
static void setint(struct snd_pcm_hw_params *p, int n, unsigned v) { struct snd_interval *i = pint(p, n); i->min = i->max = v; i->integer = 1; i->openmin = i->openmax = 0; }
static void showint(struct snd_pcm_hw_params *p, const char *name, int n) { struct snd_interval *i = pint(p, n); LOG("  refine %-12s [%u, %u]\n", name, i->min, i->max); }

struct rec { double t; int op; long ret; long avail; long delay; unsigned long hw; int state; };
static struct rec recs[100000]; static int nrec;

static int status(int fd, struct snd_pcm_status *st) { memset(st, 0, sizeof *st); return ioctl(fd, SNDRV_PCM_IOCTL_STATUS, st); }

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: %s play|cap DEV SECONDS PERIOD_FRAMES PERIODS [STALL_AT_MS STALL_MS]\n", argv[0]); return 2; }
  int cap = !strcmp(argv[1], "cap");
  const char *dev = argv[2]; double secs = atof(argv[3]); unsigned period = atoi(argv[4]), periods = atoi(argv[5]);
  double stall_at = argc > 6 ? atof(argv[6]) / 1000 : -1, stall = argc > 7 ? atof(argv[7]) / 1000 : 0;
  const unsigned rate = 48000, ch = 2;
  t0 = now();
  int fd = open(dev, O_RDWR);
  if (fd < 0) { LOG("open %s: %s\n", dev, strerror(errno)); return 1; }
  int pv = 0; ioctl(fd, SNDRV_PCM_IOCTL_PVERSION, &pv);
  int uv = SNDRV_PCM_VERSION; ioctl(fd, SNDRV_PCM_IOCTL_USER_PVERSION, &uv);
  struct snd_pcm_info info; memset(&info, 0, sizeof info);
  if (!ioctl(fd, SNDRV_PCM_IOCTL_INFO, &info)) LOG("open %s: card %d device %d id '%s' name '%s' subname '%s' proto %d.%d.%d\n", dev, info.card, info.device, info.id, info.name, info.subname, pv >> 16, (pv >> 8) & 255, pv & 255);

  struct snd_pcm_hw_params hp;
  any(&hp);
  if (ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, &hp) == 0) {
    LOG("hw capabilities: formats 0x%08x%08x rate_num/den %u/%u fifo %lu\n", pmask(&hp, SNDRV_PCM_HW_PARAM_FORMAT)->bits[1], pmask(&hp, SNDRV_PCM_HW_PARAM_FORMAT)->bits[0], hp.rate_num, hp.rate_den, (unsigned long)hp.fifo_size);
    showint(&hp, "channels", SNDRV_PCM_HW_PARAM_CHANNELS); showint(&hp, "rate", SNDRV_PCM_HW_PARAM_RATE);
  }
  any(&hp);
  setmask(&hp, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
  setmask(&hp, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
  setmask(&hp, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
  setint(&hp, SNDRV_PCM_HW_PARAM_CHANNELS, ch); setint(&hp, SNDRV_PCM_HW_PARAM_RATE, rate);
  if (ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, &hp) == 0) {
    LOG("for S16_LE/2ch/48k:\n");
    showint(&hp, "period_size", SNDRV_PCM_HW_PARAM_PERIOD_SIZE); showint(&hp, "periods", SNDRV_PCM_HW_PARAM_PERIODS);
    showint(&hp, "buffer_size", SNDRV_PCM_HW_PARAM_BUFFER_SIZE); showint(&hp, "period_us", SNDRV_PCM_HW_PARAM_PERIOD_TIME);
    struct snd_interval *ps = pint(&hp, SNDRV_PCM_HW_PARAM_PERIOD_SIZE), *pn = pint(&hp, SNDRV_PCM_HW_PARAM_PERIODS);
    if (period < ps->min) { LOG("period %u < min, using %u\n", period, ps->min); period = ps->min; }
    if (period > ps->max) period = ps->max;
    if (periods < pn->min) periods = pn->min;
    if (periods > pn->max) periods = pn->max;
  } else LOG("HW_REFINE: %s\n", strerror(errno));
  setint(&hp, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, period); setint(&hp, SNDRV_PCM_HW_PARAM_PERIODS, periods);
  hp.rmask = ~0u; hp.cmask = 0;
  double th = now();
  if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &hp) < 0) { LOG("HW_PARAMS period=%u periods=%u: %s\n", period, periods, strerror(errno)); return 1; }
  unsigned long buffer = pint(&hp, SNDRV_PCM_HW_PARAM_BUFFER_SIZE)->min;
  LOG("HW_PARAMS ok (ioctl at %.6f, %.3f ms): %s S16_LE %u ch %u Hz period %u frames (%.2f ms) x %u = buffer %lu frames (%.2f ms)\n",
      th - t0, (now() - th) * 1e3, cap ? "capture" : "playback", ch, rate, period, period * 1e3 / rate, periods, buffer, buffer * 1e3 / rate);

  struct snd_pcm_sw_params sp; memset(&sp, 0, sizeof sp);
  sp.proto = SNDRV_PCM_VERSION; sp.tstamp_mode = SNDRV_PCM_TSTAMP_ENABLE; sp.tstamp_type = SNDRV_PCM_TSTAMP_TYPE_MONOTONIC;
  sp.period_step = 1; sp.avail_min = period; sp.xfer_align = 1;
  sp.start_threshold = cap ? 1 : buffer; sp.stop_threshold = buffer;
  if (ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, &sp) < 0) { LOG("SW_PARAMS: %s\n", strerror(errno)); return 1; }
  LOG("SW_PARAMS ok: start_threshold %lu stop_threshold %lu avail_min %lu boundary %lu\n", (unsigned long)sp.start_threshold, (unsigned long)sp.stop_threshold, (unsigned long)sp.avail_min, (unsigned long)sp.boundary);
  th = now();
  if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) { LOG("PREPARE: %s\n", strerror(errno)); return 1; }
  LOG("PREPARE ok (ioctl at %.6f, %.3f ms)\n", th - t0, (now() - th) * 1e3);

  int16_t *buf = calloc(period * ch, 2);
  unsigned long total = (unsigned long)(secs * rate), done = 0, phase = 0;
  int xruns = 0, stalled = 0, peak = 0;
  double tstart = now();
  if (cap) { th = now(); int r = ioctl(fd, SNDRV_PCM_IOCTL_START); LOG("START %s (ioctl at %.6f)\n", r ? strerror(errno) : "ok", th - t0); }
  LOG("%s %lu frames (%.3f s)%s\n", cap ? "capturing" : "playing", total, secs, stall > 0 ? ", with one deliberate stall" : "");
  while (done < total) {
    if (!stalled && stall > 0 && now() - tstart >= stall_at) {
      stalled = 1;
      LOG("STALL: sleeping %.0f ms (buffer is %.1f ms) after %lu frames\n", stall * 1e3, buffer * 1e3 / rate, done);
      recs[nrec++] = (struct rec){now(), 'S', (long)(stall * 1e3), 0, 0, 0, 0};
      usleep((useconds_t)(stall * 1e6));
      recs[nrec++] = (struct rec){now(), 's', 0, 0, 0, 0, 0};
    }
    if (!cap) for (unsigned i = 0; i < period; i++, phase++) {
      buf[2 * i] = (int16_t)(8000 * sin(2 * M_PI * 440 * phase / rate));
      buf[2 * i + 1] = (int16_t)(8000 * sin(2 * M_PI * 660 * phase / rate));
    }
    struct snd_xferi x = { .result = 0, .buf = buf, .frames = period };
    double tw = now();
    int r = ioctl(fd, cap ? SNDRV_PCM_IOCTL_READI_FRAMES : SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x);
    double te = now();
    struct snd_pcm_status st; status(fd, &st);
    if (nrec < 99990) recs[nrec++] = (struct rec){tw, cap ? 'R' : 'W', r < 0 ? -errno : (long)x.result, (long)st.avail, (long)st.delay, (unsigned long)st.hw_ptr, st.state};
    if (nrec < 99990) recs[nrec++] = (struct rec){te, 'e', 0, 0, 0, 0, 0};
    if (r < 0 && errno == EPIPE) {
      xruns++;
      LOG("XRUN (%s) #%d: %s returned -EPIPE at +%.6f, state %d, trigger_tstamp %ld.%09ld, tstamp %ld.%09ld, hw_ptr %lu appl_ptr %lu\n",
          cap ? "overrun" : "underrun", xruns, cap ? "READI" : "WRITEI", tw - t0, st.state, (long)st.trigger_tstamp.tv_sec, (long)st.trigger_tstamp.tv_nsec,
          (long)st.tstamp.tv_sec, (long)st.tstamp.tv_nsec, (unsigned long)st.hw_ptr, (unsigned long)st.appl_ptr);
      double tp = now(); int pr = ioctl(fd, SNDRV_PCM_IOCTL_PREPARE); double tpe = now();
      recs[nrec++] = (struct rec){tp, 'P', pr < 0 ? -errno : 0, 0, 0, 0, 0};
      LOG("recover: PREPARE %s (ioctl at +%.6f, took %.3f ms)\n", pr ? strerror(errno) : "ok", tp - t0, (tpe - tp) * 1e3);
      if (cap) { int sr = ioctl(fd, SNDRV_PCM_IOCTL_START); LOG("recover: START %s\n", sr ? strerror(errno) : "ok"); }
      continue;
    }
    if (r < 0) { LOG("%s: %s\n", cap ? "READI" : "WRITEI", strerror(errno)); break; }
    done += x.result;
    if (cap) for (unsigned i = 0; i < x.result * ch; i++) { int v = abs(buf[i]); if (v > peak) peak = v; }
  }
  double tend = now();
  int dr = 0; double td = now();
  if (!cap) dr = ioctl(fd, SNDRV_PCM_IOCTL_DRAIN);
  else dr = ioctl(fd, SNDRV_PCM_IOCTL_DROP);
  LOG("%s %s (ioctl at %.6f, took %.3f ms); %lu frames in %.3f s of writer time, %d xrun(s)%s\n", cap ? "DROP" : "DRAIN", dr ? strerror(errno) : "ok",
      td - t0, (now() - td) * 1e3, done, tend - tstart, xruns, cap ? "" : "");
  if (cap) LOG("capture peak |sample| = %d\n", peak);
  close(fd);
  LOG("per-transfer log (t = guest CLOCK_MONOTONIC seconds since program start; op W=write R=read e=ioctl returned S/s=stall begin/end P=prepare;"
      " ret=frames or -errno; avail/delay/hw_ptr/state from STATUS right after):\n");
  double prev = 0;
  for (int i = 0; i < nrec; i++) {
    struct rec *r = &recs[i];
    if (r->op == 'W' || r->op == 'R')
      printf("XFER t=%.6f dt=%.3fms op=%c ret=%ld avail=%ld delay=%ld hw_ptr=%lu state=%d\n", r->t - t0, (r->t - prev) * 1e3, r->op, r->ret, r->avail, r->delay, r->hw, r->state), prev = r->t;
    else if (r->op == 'e') printf("XFER t=%.6f op=e blocked=%.3fms\n", r->t - t0, (r->t - recs[i - 1].t) * 1e3);
    else printf("XFER t=%.6f op=%c ret=%ld\n", r->t - t0, r->op, r->ret);
  }
  fflush(stdout);
  return 0;
}
