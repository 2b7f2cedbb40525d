{#- SQL twins of greenlight_dagster/core/text.py and core/matching.py, so a status, a name or a
    street compares the same way in the warehouse and in Python, whatever the server's locale.
    Python folds case and accents with Unicode tables; PostgreSQL's lower() and [[:alnum:]] follow
    the server's LC_CTYPE, and under "C" they know ASCII only ("Café" became "caf"). So the
    twin folds the Latin letters itself (fold_latin) and names the non-ASCII letters Python keeps
    as word characters. Other scripts follow the server's ctype (a UTF-8 one agrees with Python).
    test_text_twins compares every character it folds and a list of names with Python, on a UTF-8
    and a "C" ctype. -#}

{#- core.text.fold for U+00A0-U+024F and U+1E00-U+1EFF (Latin-1 to Extended-B, and Latin
    Extended Additional with the Vietnamese letters): each character's casefold + NFKD without
    combining marks, as Python computes it (the test recomputes it): the multi-letter ones by
    replace, the rest by one translate. -#}
{% macro fold_latin(expr) -%}
    {%- set ns = namespace(sql=expr) -%}
    {%- for letter, folded in [
            ('¼', '1⁄4'), ('½', '1⁄2'), ('¾', '3⁄4'), ('ß', 'ss'), ('Ĳ', 'ij'), ('ĳ', 'ij'), ('Ŀ', 'l·'),
            ('ŀ', 'l·'), ('ŉ', 'ʼn'), ('Ǆ', 'dz'), ('ǅ', 'dz'), ('ǆ', 'dz'), ('Ǉ', 'lj'), ('ǈ', 'lj'),
            ('ǉ', 'lj'), ('Ǌ', 'nj'), ('ǋ', 'nj'), ('ǌ', 'nj'), ('Ǳ', 'dz'), ('ǲ', 'dz'), ('ǳ', 'dz'),
            ('ẚ', 'aʾ'), ('ẞ', 'ss'),
        ] -%}
        {%- set ns.sql = "replace(" ~ ns.sql ~ ", '" ~ letter ~ "', '" ~ folded ~ "')" -%}
    {%- endfor -%}
    translate({{ ns.sql }},
        ' ¨ª¯²³´µ¸¹ºÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĐĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŁŃńŅņŇňŊŌōŎŏŐőŒŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſƁƂƄƆƇƉƊƋƎƏƐƑƓƔƖƗƘƜƝƟƠơƢƤƦƧƩƬƮƯưƱƲƳƵƷƸƼǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǢǣǤǦǧǨǩǪǫǬǭǮǯǰǴǵǶǷǸǹǺǻǼǽǾǿȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȜȞȟȠȢȤȦȧȨȩȪȫȬȭȮȯȰȱȲȳȺȻȽȾɁɃɄɅɆɈɊɌɎḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹỺỼỾ',
        '  a 23 μ 1oaaaaaaæceeeeiiiiðnoooooøuuuuyþaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddđeeeeeeeeeegggggggghhħiiiiiiiiijjkkllllllłnnnnnnŋooooooœrrrrrrssssssssttttŧuuuuuuuuuuuuwwyyyzzzzzzsɓƃƅɔƈɖɗƌǝəɛƒɠɣɩɨƙɯɲɵooƣƥʀƨʃƭʈuuʊʋƴƶʒƹƽaaiioouuuuuuuuuuaaaaææǥggkkooooʒʒjggƕƿnnaaææøøaaaaeeeeiiiioooorrrruuuussttȝhhƞȣȥaaeeooooooooyyⱥȼƚⱦɂƀʉʌɇɉɋɍɏaabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkkkkkllllllllmmmmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttttttuuuuuuuuuuvvvvwwwwwwwwwwxxxxyyzzzzzzhtwysaaaaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeeeiiiioooooooooooooooooooooooouuuuuuuuuuuuuuyyyyyyyyỻỽỿ')
{%- endmacro %}

{#- The non-ASCII letters fold_latin leaves, which Python counts as word characters. -#}
{% macro folded_letters() -%}
    æðøþđħıĸłŋœŧƀƃƅƈƌƍƒƕƙƚƛƞƣƥƨƪƫƭƴƶƹƺƻƽƾƿǀǁǂǃǝǥȝȡȣȥȴȵȶȷȸȹȼȿɀɂɇɉɋɍɏɓɔɖɗəɛɠɣɨɩɯɲɵʀʃʈʉʊʋʌʒʼʾμẜẝẟỻỽỿⱥⱦ
{%- endmacro %}

{#- core.text.normalize_text: fold; dots/apostrophes join; other punctuation splits. -#}
{% macro normalize_text(expr) -%}
    trim(regexp_replace(
        regexp_replace(lower({{ fold_latin("coalesce(" ~ expr ~ ", '')") }}), '[.''`’]', '', 'g'),
        '[^[:alnum:]{{ folded_letters() | trim }}]+', ' ', 'g'
    ))
{%- endmacro %}

{#- core.text.STREET_ABBREVIATIONS, one regexp per word (\m \M are word boundaries). -#}
{% macro street_abbreviations() -%}
    {{ return({
        "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr", "boulevard": "blvd",
        "lane": "ln", "court": "ct", "place": "pl", "terrace": "ter", "parkway": "pkwy", "highway": "hwy",
        "circle": "cir", "square": "sq", "trail": "trl", "north": "n", "south": "s", "east": "e", "west": "w",
        "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw", "apartment": "apt",
        "suite": "ste", "number": "no"
    }) }}
{%- endmacro %}

{#- core.text.normalize_street: normalize_text, then street words abbreviated. -#}
{% macro normalize_street(expr) -%}
    {%- set ns = namespace(sql=normalize_text(expr)) -%}
    {%- for word, abbreviation in street_abbreviations().items() -%}
        {%- set ns.sql = "regexp_replace(" ~ ns.sql ~ ", '\\m" ~ word ~ "\\M', '" ~ abbreviation ~ "', 'g')" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}

{#- core.matching.normalize_name: "&" -> "and", drop a leading "the" and trailing legal-form
    suffixes, never the last remaining word. -#}
{% macro normalize_name(expr) -%}
    regexp_replace(
        regexp_replace(
            {{ normalize_text("replace(" ~ expr ~ ", '&', ' and ')") }},
            '^(the )+(?=\S)', ''
        ),
        '( (llc|lc|inc|incorporated|co|company|corp|corporation|ltd|limited|lp|llp|pllc|plc|pc))+$', ''
    )
{%- endmacro %}

{#- core.idempotency.parse_cross_system_id: our po_number stamp "PW-9000" (any case) -> 9000; a
    bare or look-alike number ("9000", "PW 9000", "PO-9000") is NULL. Compared exactly, never by
    prefix. -#}
{% macro parse_cross_system_id(expr) -%}
    {{ safe_bigint("substring(" ~ expr ~ " from '^\\s*[pP][wW]-([1-9][0-9]{0,17})\\s*$')") }}
{%- endmacro %}

{#- core.idempotency.parse_stamp_field: the "PW Work Order ID" custom field, "9000" or "PW-9000". -#}
{% macro parse_stamp_field(expr) -%}
    {{ safe_bigint("substring(" ~ expr ~ " from '^\\s*(?:[pP][wW]-)?([1-9][0-9]{0,17})\\s*$')") }}
{%- endmacro %}

{#- One deterministic surrogate key: md5 over the parts with a separator and NULL marker. -#}
{% macro surrogate_key(parts) -%}
    md5(concat_ws('|', {%- for part in parts %} coalesce(cast({{ part }} as text), '<null>'){{ "," if not loop.last }}{% endfor %}))
{%- endmacro %}
