/*
 * test/unit/handwritten_records.h — HAND-WRITTEN OpenF1 records, for the
 * decoder's unit tests (test_decode_fields.c, test_decode_messages.c).
 *
 * None of these is recorded data.  The recorded sessions in test/data/openf1
 * hold no intervals, team_radio or championship records, and none of the
 * quirks below; these records follow the shapes OpenF1 documents for its
 * endpoints (fields and types: intervals' "+N LAP(S)", pit's lane_duration
 * and stop_duration, session_result's qualifying arrays of three).  Their
 * keys are those of the 2024 Singapore race (9606, meeting 1246) so that
 * they sit beside the real records; every value is made up.  The real
 * records are in openf1_records.h.
 *
 * Written with ' for " like those: pass them through J() (harness.h).
 */
#ifndef F1TEL_TEST_HANDWRITTEN_RECORDS_H
#define F1TEL_TEST_HANDWRITTEN_RECORDS_H

/* hand-written: intervals, a car close behind (seconds as floats) */
static const char intervals_hw_close[] =
	"{'date':'2024-09-22T13:00:00.123000+00:00','session_key':9606,"
	"'gap_to_leader':41.019,'interval':0.903,'driver_number':81,'meeting_key':1246}";

/* hand-written: intervals, a lapped car ("+N LAP(S)" in both fields) */
static const char intervals_hw_lapped[] =
	"{'date':'2024-09-22T13:00:00.123000+00:00','session_key':9606,"
	"'gap_to_leader':'+2 LAPS','interval':'+1 LAP','driver_number':14,'meeting_key':1246}";

/* hand-written: intervals, the leader (gap_to_leader null, interval 0) */
static const char intervals_hw_leader[] =
	"{'date':'2024-09-22T13:00:00.123000+00:00','session_key':9606,"
	"'gap_to_leader':null,'interval':0,'driver_number':4,'meeting_key':1246}";

/* hand-written: pit, the newer shape (lane_duration, stop_duration, no pit_duration) */
static const char pit_hw_lane_stop[] =
	"{'date':'2024-09-22T12:40:00.500000+00:00','session_key':9606,"
	"'lane_duration':29.812,'stop_duration':2.4,'lap_number':30,"
	"'meeting_key':1246,'driver_number':4}";

/* hand-written: weather, a date with a space instead of 'T' */
static const char weather_hw_space_date[] =
	"{'date':'2024-09-22 11:08:46.576000+00:00','session_key':9606,'meeting_key':1246,"
	"'track_temperature':37.5,'rainfall':0,'wind_speed':0.7,'humidity':74.0,"
	"'pressure':1006.9,'air_temperature':31.0,'wind_direction':10}";

/* hand-written: session_result of a qualifying session: arrays of three */
static const char session_result_hw_quali[] =
	"{'position':3,'driver_number':44,'number_of_laps':18,'dnf':false,'dns':false,"
	"'dsq':false,'duration':[89.5,null,88.1],'gap_to_leader':[0.412,null,0.316],"
	"'meeting_key':1246,'session_key':9602}";

/* hand-written: team_radio */
static const char team_radio_hw[] =
	"{'date':'2024-09-22T12:10:00.250000+00:00','driver_number':4,'session_key':9606,"
	"'meeting_key':1246,'recording_url':'https://example.invalid/team_radio/4_121000.mp3'}";

/* hand-written: championship_drivers */
static const char championship_drivers_hw[] =
	"{'meeting_key':1246,'session_key':9606,'driver_number':4,'position_start':2,"
	"'position_current':2,'points_start':100.0,'points_current':125}";

/* hand-written: championship_teams (its key: session_key and team_name) */
static const char championship_teams_hw[] =
	"{'meeting_key':1246,'session_key':9606,'team_name':'McLaren','position_start':1,"
	"'position_current':1,'points_start':200.0,'points_current':244.0}";

#endif							/* F1TEL_TEST_HANDWRITTEN_RECORDS_H */
