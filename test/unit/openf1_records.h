/*
 * test/unit/openf1_records.h — real OpenF1 records, copied from the recorded
 * sessions in test/data/openf1 (each names its file), for the decoder's unit
 * tests (test_decode_fields.c, test_decode_messages.c).
 *
 * Written with ' for " to keep them readable: pass them through J()
 * (harness.h) before decoding.  Only real records are here: intervals,
 * team_radio and the championships have none recorded, so the tests that
 * need those write their own records, each marked hand-written.  Unused
 * ones cost nothing: they are static const arrays in a header, of which
 * the compiler says nothing.
 */
#ifndef F1TEL_TEST_OPENF1_RECORDS_H
#define F1TEL_TEST_OPENF1_RECORDS_H

/* 9189/laps.json, the first record */
static const char laps_9189_first[] =
	"{'meeting_key':1225,'session_key':9189,'driver_number':1,'lap_numb"
	"er':1,'date_start':'2023-11-19T06:04:05.009000+00:00','duration_se"
	"ctor_1':34.284,'duration_sector_2':33.497,'duration_sector_3':38.2"
	"49,'i1_speed':176,'i2_speed':204,'is_pit_out_lap':false,'lap_durat"
	"ion':106.03,'segments_sector_1':[2048,2049,2051,2049,2051,2051],'s"
	"egments_sector_2':[2051,2051,2051,2051,2049,2051,2051],'segments_s"
	"ector_3':[2049,2049,2049,2049,2049,2049,2049,2051],'st_speed':278}";

/* 9189/laps.json, driver 1 lap 51 after the flag: null lap_duration */
static const char laps_9189_lap51[] =
	"{'meeting_key':1225,'session_key':9189,'driver_number':1,'lap_numb"
	"er':51,'date_start':'2023-11-19T07:33:13.695000+00:00','duration_s"
	"ector_1':null,'duration_sector_2':null,'duration_sector_3':null,'i"
	"1_speed':null,'i2_speed':null,'is_pit_out_lap':false,'lap_duration"
	"':null,'segments_sector_1':[null,2048,2048,2048,2048,2048],'segmen"
	"ts_sector_2':[2048,2048,2048,2048,2048,2048,2048],'segments_sector"
	"_3':[2048],'st_speed':null}";

/* 9189/laps.json, driver 4 lap 3 (retired): null segments_sector_3 */
static const char laps_9189_retired[] =
	"{'meeting_key':1225,'session_key':9189,'driver_number':4,'lap_numb"
	"er':3,'date_start':'2023-11-19T06:08:15.098000+00:00','duration_se"
	"ctor_1':29.696,'duration_sector_2':null,'duration_sector_3':null,'"
	"i1_speed':170,'i2_speed':null,'is_pit_out_lap':false,'lap_duration"
	"':null,'segments_sector_1':[null,2048,2049,2049,2049,2049],'segmen"
	"ts_sector_2':[2048],'segments_sector_3':null,'st_speed':null}";

/* 9606/laps.json, driver 23 lap 16 (retired): all but the keys null */
static const char laps_9606_retired[] =
	"{'meeting_key':1246,'session_key':9606,'driver_number':23,'lap_num"
	"ber':16,'date_start':'2024-09-22T12:29:58.265000+00:00','duration_"
	"sector_1':null,'duration_sector_2':null,'duration_sector_3':null,'"
	"i1_speed':null,'i2_speed':null,'is_pit_out_lap':false,'lap_duratio"
	"n':null,'segments_sector_1':null,'segments_sector_2':null,'segment"
	"s_sector_3':null,'st_speed':null}";

/* 9606/laps.json, the first record: a null segment element */
static const char laps_9606_first[] =
	"{'meeting_key':1246,'session_key':9606,'driver_number':1,'lap_numb"
	"er':1,'date_start':'2024-09-22T12:03:57.136000+00:00','duration_se"
	"ctor_1':32.12,'duration_sector_2':41.689,'duration_sector_3':27.88"
	"8,'i1_speed':281,'i2_speed':261,'is_pit_out_lap':false,'lap_durati"
	"on':101.697,'segments_sector_1':[null,2049,2049,2049,2049,2049,204"
	"9,2049],'segments_sector_2':[2049,2051,2049,2049,2051,2049,2049,20"
	"49],'segments_sector_3':[2049,2049,2049,2051,2049,2049,2051,2051],"
	"'st_speed':189}";

/* 9189/position.json, the first record (pre-race grid) */
static const char position_9189_first[] =
	"{'position':2,'driver_number':1,'date':'2023-11-19T05:50:05.914000"
	"+00:00','session_key':9189,'meeting_key':1225}";

/* 9189/drivers.json, the first record */
static const char drivers_9189_first[] =
	"{'driver_number':1,'broadcast_name':'M VERSTAPPEN','full_name':'Ma"
	"x VERSTAPPEN','name_acronym':'VER','team_name':'Red Bull Racing','"
	"team_colour':'3671C6','first_name':'Max','last_name':'Verstappen',"
	"'headshot_url':'https://www.formula1.com/content/dam/fom-website/d"
	"rivers/M/MAXVER01_Max_Verstappen/maxver01.png.transform/1col/image"
	".png','country_code':'NED','session_key':9189,'meeting_key':1225}";

/* 9189/drivers.json, driver 3: null headshot_url */
static const char drivers_9189_ric[] =
	"{'driver_number':3,'broadcast_name':'D RICCIARDO','full_name':'Dan"
	"iel RICCIARDO','name_acronym':'RIC','team_name':'AlphaTauri','team"
	"_colour':'5E8FAA','first_name':'Daniel','last_name':'Ricciardo','h"
	"eadshot_url':null,'country_code':'AUS','session_key':9189,'meeting"
	"_key':1225}";

/* 9189/race_control.json, the first record: whole-second date, nulls */
static const char race_control_9189_first[] =
	"{'date':'2023-11-19T05:57:18+00:00','category':'Drs','flag':null,'"
	"scope':null,'message':'DRS DISABLED','session_key':9189,'meeting_k"
	"ey':1225,'driver_number':null,'lap_number':1,'sector':null}";

/* 9606/race_control.json, the first record with a driver_number */
static const char race_control_9606_blue[] =
	"{'meeting_key':1246,'session_key':9606,'date':'2024-09-22T13:07:07"
	"+00:00','driver_number':18,'lap_number':39,'category':'Flag','flag"
	"':'BLUE','scope':'Driver','sector':null,'message':'WAVED BLUE FLAG"
	" FOR CAR 18 (STR) TIMED AT 21:07:06'}";

/* 9606/sessions.json */
static const char sessions_9606[] =
	"{'meeting_key':1246,'session_key':9606,'location':'Marina Bay','da"
	"te_start':'2024-09-22T12:00:00+00:00','date_end':'2024-09-22T14:00"
	":00+00:00','session_type':'Race','session_name':'Race','country_ke"
	"y':157,'country_code':'SGP','country_name':'Singapore','circuit_ke"
	"y':61,'circuit_short_name':'Singapore','gmt_offset':'08:00:00','ye"
	"ar':2024}";

/* 9189/meetings.json: null meeting_code */
static const char meetings_9189[] =
	"{'meeting_name':'Las Vegas Grand Prix','meeting_official_name':'FO"
	"RMULA 1 HEINEKEN SILVER LAS VEGAS GRAND PRIX 2023','location':'Las"
	" Vegas','country_key':19,'country_code':'USA','country_name':'Unit"
	"ed States','circuit_key':152,'circuit_short_name':'Las Vegas','dat"
	"e_start':'2023-11-17T04:30:00+00:00','gmt_offset':'-08:00:00','mee"
	"ting_key':1225,'year':2023,'meeting_code':null}";

/* 9606/meetings.json */
static const char meetings_9606[] =
	"{'meeting_key':1246,'circuit_key':61,'circuit_short_name':'Singapo"
	"re','meeting_code':'SGP','location':'Marina Bay','country_key':157"
	",'country_code':'SGP','country_name':'Singapore','meeting_name':'S"
	"ingapore Grand Prix','meeting_official_name':'FORMULA 1 SINGAPORE "
	"AIRLINES SINGAPORE GRAND PRIX 2024','gmt_offset':'08:00:00','date_"
	"start':'2024-09-20T09:30:00+00:00','year':2024}";

/* 9189/car_data.json.gz, the first record */
static const char car_data_9189_first[] =
	"{'date':'2023-11-19T05:50:02.821000+00:00','session_key':9189,'spe"
	"ed':0,'rpm':0,'meeting_key':1225,'driver_number':1,'brake':0,'thro"
	"ttle':0,'drs':0,'n_gear':0}";

/* 9606/car_data.json.gz, record 88186 */
static const char car_data_9606[] =
	"{'date':'2024-09-22T13:16:52.599000+00:00','session_key':9606,'spe"
	"ed':125,'n_gear':2,'rpm':11696,'driver_number':4,'throttle':72,'br"
	"ake':0,'drs':0,'meeting_key':1246}";

/* 9606/car_data.json.gz, record 88189: the first null date */
static const char car_data_9606_null_date[] =
	"{'date':null,'session_key':9606,'speed':176,'n_gear':4,'rpm':10869"
	",'driver_number':1,'throttle':100,'brake':0,'drs':0,'meeting_key':"
	"1246}";

/* 9189/location.json.gz, the first record */
static const char location_9189_first[] =
	"{'date':'2023-11-19T05:50:02.764000+00:00','session_key':9189,'x':"
	"1661,'z':6066,'meeting_key':1225,'driver_number':1,'y':-1065}";

/* 9606/location.json.gz, the first record */
static const char location_9606_first[] =
	"{'date':'2024-09-22T11:06:58.454000+00:00','session_key':9606,'y':"
	"0,'x':0,'z':0,'meeting_key':1246,'driver_number':1}";

/* 9189/pit.json, the first record */
static const char pit_9189_first[] =
	"{'pit_duration':33.5,'lap_number':1,'driver_number':11,'date':'202"
	"3-11-19T06:06:40.131000+00:00','session_key':9189,'meeting_key':12"
	"25}";

/* 9606/pit.json, the first record */
static const char pit_9606_first[] =
	"{'date':'2024-09-22T12:21:17.341000+00:00','session_key':9606,'pit"
	"_duration':30.3,'lap_number':10,'meeting_key':1246,'driver_number'"
	":3}";

/* 9189/stints.json, the first record */
static const char stints_9189_first[] =
	"{'meeting_key':1225,'session_key':9189,'stint_number':1,'driver_nu"
	"mber':1,'lap_start':1,'lap_end':16,'compound':'MEDIUM','tyre_age_a"
	"t_start':0}";

/* 9606/stints.json, the first record */
static const char stints_9606_first[] =
	"{'meeting_key':1246,'session_key':9606,'stint_number':1,'driver_nu"
	"mber':1,'lap_start':1,'lap_end':29,'compound':'MEDIUM','tyre_age_a"
	"t_start':0}";

/* 9189/weather.json, the first record */
static const char weather_9189_first[] =
	"{'air_temperature':18.1,'humidity':45.0,'pressure':940.2,'rainfall"
	"':0,'track_temperature':20.3,'wind_direction':227,'wind_speed':2.5"
	",'date':'2023-11-19T05:50:08.851000+00:00','session_key':9189,'mee"
	"ting_key':1225}";

/* 9606/weather.json, the first record */
static const char weather_9606_first[] =
	"{'date':'2024-09-22T11:07:46.576000+00:00','session_key':9606,'mee"
	"ting_key':1246,'track_temperature':37.6,'rainfall':0,'wind_speed':"
	"0.6,'humidity':74.0,'pressure':1006.9,'air_temperature':31.0,'wind"
	"_direction':0}";

/* 9189/overtakes.json, the first record */
static const char overtakes_9189_first[] =
	"{'meeting_key':1225,'session_key':9189,'overtaking_driver_number':"
	"1,'overtaken_driver_number':16,'date':'2023-11-19T06:04:17.743000+"
	"00:00','position':1}";

/* 9606/overtakes.json, the first record */
static const char overtakes_9606_first[] =
	"{'meeting_key':1246,'session_key':9606,'overtaking_driver_number':"
	"16,'overtaken_driver_number':22,'date':'2024-09-22T12:04:06.628000"
	"+00:00','position':8}";

/* 9189/session_result.json, the first record (the winner: gap_to_leader the integer 0) */
static const char session_result_9189_first[] =
	"{'position':1,'driver_number':1,'number_of_laps':50,'dnf':false,'d"
	"ns':false,'dsq':false,'duration':5348.289,'gap_to_leader':0,'meeti"
	"ng_key':1225,'session_key':9189,'points':25.0}";

/* 9606/session_result.json, the first record (the winner: gap_to_leader the integer 0) */
static const char session_result_9606_first[] =
	"{'position':1,'driver_number':4,'number_of_laps':62,'dnf':false,'d"
	"ns':false,'dsq':false,'duration':6052.571,'gap_to_leader':0,'meeti"
	"ng_key':1246,'session_key':9606,'points':25.0}";

/* 9189/session_result.json, driver 4 (record 19): null position, duration and gap_to_leader */
static const char session_result_9189_dnf[] =
	"{'position':null,'driver_number':4,'number_of_laps':2,'dnf':true,'"
	"dns':false,'dsq':false,'duration':null,'gap_to_leader':null,'meeti"
	"ng_key':1225,'session_key':9189,'points':0.0}";

/* 9606/session_result.json, position 8 (record 7): gap_to_leader "+1 LAP" */
static const char session_result_9606_lapped[] =
	"{'position':8,'driver_number':14,'number_of_laps':61,'dnf':false,'"
	"dns':false,'dsq':false,'duration':null,'gap_to_leader':'+1 LAP','m"
	"eeting_key':1246,'session_key':9606,'points':4.0}";

/* 9606/session_result.json, position 2 (record 1): a float gap_to_leader */
static const char session_result_9606_second[] =
	"{'position':2,'driver_number':1,'number_of_laps':62,'dnf':false,'d"
	"ns':false,'dsq':false,'duration':6073.516,'gap_to_leader':20.945,'"
	"meeting_key':1246,'session_key':9606,'points':18.0}";

/* 9189/starting_grid.json, the first record (session_key: the qualifying session's) */
static const char starting_grid_9189_first[] =
	"{'position':1,'driver_number':16,'lap_duration':92.726,'meeting_ke"
	"y':1225,'session_key':9314}";

/* 9606/starting_grid.json, the first record (session_key: the qualifying session's) */
static const char starting_grid_9606_first[] =
	"{'position':1,'driver_number':4,'lap_duration':89.525,'meeting_key"
	"':1246,'session_key':9602}";

/* 9606/starting_grid.json, position 9 (record 8): null lap_duration */
static const char starting_grid_9606_no_time[] =
	"{'position':9,'driver_number':16,'lap_duration':null,'meeting_key'"
	":1246,'session_key':9602}";

#endif							/* F1TEL_TEST_OPENF1_RECORDS_H */
