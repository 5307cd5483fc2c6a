# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The benchmarks behind tests/perf/bench.py, one module per job.

common            paths, the bench service and seed builders, log(), table()
emulator          the emulator process bench.py runs against, and its admin client
runner            ansible-playbook with the bench_timer callback
counts            the minimum number of requests the API allows, and the one check against it
requests_per_run  part `requests`: requests per run of existio.exist.attribute
time_per_task     part `tasks`: median time per task
module_profile    part `tasks` too: where the module path's time goes
scale             part `scale`: many users, one host each
fleet             part `fleet`: the fleet guide's run (1,000 users), next to debug and ping; where the time goes
phase_timer       ansible-playbook with clocks on the phases of a task (a script, run by fleet)
chaos             part `chaos`: the fleet flow under the emulator's chaos mode, two runs
chaos_check       the chaos part's checker: every user, item and token pair accounted for
page              the machine table and docs/docsite/rst/performance.rst from tests/perf/performance.rst.in
"""
