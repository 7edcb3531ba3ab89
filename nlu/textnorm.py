"""Text normalisation shared by the rules (emergency net, gazetteer, request type) and the client.

Citizens write in traditional characters too (a phone set to 繁體, a letter from Taiwan or Hong Kong
relatives), and in full-width digits (１２０). The training data is mostly simplified, so the client
sends the model the simplified form, and the rules match on NFKC + simplified text.

The table below is deliberately small (no extra dependency in the gateway's virtualenv): the
traditional characters that occur in everyday citizen messages, place names of Pingdingshan, and
every character of the emergency, region and request-type keywords. A full converter (OpenCC) could
replace it later; tests/nlu/test_textnorm.py checks the keywords survive the conversion.
"""

from __future__ import annotations

import unicodedata

# Pairs "traditional simplified", space-separated; duplicates are harmless.
_PAIRS = """
區区 縣县 華华 衛卫 東东 龍龙 魯鲁 葉叶 寶宝 豐丰 鋼钢 郟郏 範范 鎮镇 鄉乡 鄰邻 園园 體体 與与 為为 們们 來来 個个
這这 說说 話话 電电 號号 碼码 請请 問问 麼么 機机 關关 務务 門门 開开 辦办 處处 際际 醫医 療疗 護护 傷伤 車车 禍祸
輛辆 燒烧 災灾 氣气 煙烟 搶抢 殺杀 報报 鬥斗 暈晕 臟脏 發发 邊边 裡里 裏里 還还 沒没 無无 會会 時时 間间 後后 從从
對对 應应 該该 將将 給给 讓让 幫帮 謝谢 樓楼 層层 熱热 線线 網网 費费 標标 準准 價价 錢钱 買买 賣卖 貨货 質质 場场
監监 稅税 積积 資资 險险 養养 歲岁 學学 師师 長长 鐘钟 點点 幾几 歡欢 聽听 見见 覺觉 讀读 寫写 書书 記记 錄录 單单
據据 證证 認认 識识 計计 劃划 設设 備备 條条 規规 則则 違违 舉举 訴诉 議议 讚赞 揚扬 環环 擾扰 廠厂 產产 業业 農农
雜杂 亂乱 馬马 燈灯 紅红 綠绿 橋桥 鐵铁 運运 輸输 駕驾 駛驶 員员 戶户 驗验 親亲 婦妇 兒儿 孫孙 爺爷 媽妈 頭头 腦脑
臉脸 腳脚 斷断 瘋疯 癥症 藥药 針针 館馆 飯饭 雞鸡 魚鱼 蟲虫 鳥鸟 貓猫 權权 屬属 補补 貼贴 齡龄 殘残 離离 墳坟 陸陆
陳陈 張张 劉刘 趙赵 楊杨 黃黄 吳吴 鄭郑 週周 麵面 樣样 種种 總总 經经 濟济 營营 銷销 億亿 萬万 兩两 牆墙 壞坏 舊旧
髒脏 響响 聲声 鬧闹 著着 滅灭 鬆松 緊紧 況况 狀状 態态 圍围 壓压 動动 靜静 轉转 換换 帶带 錯错 誤误 課课 試试 題题
詢询 諮咨 詳详 細细 續续 啟启 閉闭 專专 項项 類类 別别 級级 評评 滿满 負负 責责 勞劳 簽签 約约 僱雇 傭佣 損损 賠赔
償偿 漲涨 貴贵 騙骗 詐诈 賭赌 槍枪 竊窃 綁绑 跡迹 蹤踪 屍尸 診诊 術术 隨随 絡络 錶表 內内 陽阳 陰阴 雲云 颳刮 風风
霧雾 溫温 預预 颱台 臺台 貸贷 帳账 賬账 礦矿 廢废 築筑 蓋盖 塊块 厲厉 嚴严 變变 歷历 參参 觀观 遊游 覽览 藝艺 廣广
視视 樂乐 劇剧 節节 慶庆 辭辞 職职 徵征 陣阵 階阶 頁页 擊击 訊讯 簡简 遞递 郵邮 遠远 達达 過过 進进 選选 連连 適适
遲迟 隊队 隱隐 雖虽 雙双 難难 靈灵 順顺 須须 領领 頻频 顧顾 飛飞 餘余 髮发 麥麦 黨党 齊齐 齒齿 龜龟 濱滨 漢汉 潔洁
澤泽 濕湿 溝沟 淚泪 淺浅 濃浓 灣湾 煩烦 牽牵 獄狱 獨独 獎奖 現现 畫画 當当 疊叠 盡尽 盤盘 確确 礙碍 禮礼 稱称 穩稳
窮穷 競竞 筆笔 籃篮 紀纪 紙纸 紛纷 終终 組组 結结 絕绝 統统 絲丝 維维 綜综 編编 緣缘 縱纵 織织 繳缴 繼继 罰罚 義义
習习 聯联 肅肃 腫肿 膽胆 臨临 興兴 艱艰 莊庄 蘇苏 虛虚 蝦虾 裝装 製制 複复 訂订 訓训 託托 訪访 許许 証证 詞词 誠诚
誰谁 調调 談谈 論论 諾诺 謊谎 講讲 譯译 豬猪 貝贝 財财 貧贫 販贩 貫贯 賓宾 購购 賽赛 贈赠 趕赶 踐践 軍军 軟软 載载
較较 輕轻 醜丑 釋释 釣钓 鈔钞 銀银 銅铜 鋪铺 鍋锅 鍵键 鎖锁 鏈链 閃闪 閑闲 閱阅 闆板 隻只 頂顶 額额 顏颜 願愿 顯显
飲饮 飽饱 餓饿 騎骑 騷骚 驚惊 鬱郁 麗丽 嗎吗 囉啰 喚唤 嚇吓 團团 圖图 夠够 夢梦 奪夺 奮奋 寧宁 實实 導导 屆届 嶺岭
幣币 帥帅 幹干 庫库 廁厕 廚厨 廟庙 強强 彈弹 彎弯 徑径 復复 憂忧 懷怀 懶懒 戲戏 戰战 擁拥 擇择 擔担 擠挤 擴扩 攤摊
敗败 敵敌 數数 於于 暫暂 曆历 曉晓 極极 構构 樹树 橫横 檢检 櫃柜 歸归 殼壳 毀毁 決决 測测 潛潜 澆浇 烏乌 煉炼 燙烫
爐炉 爭争 爾尔 獲获 畢毕 異异 盜盗 眾众 穫获 窩窝 糧粮 糾纠 納纳 純纯 紮扎 紹绍 練练 績绩 繩绳 罵骂 羅罗 腸肠 膚肤
膠胶 蘭兰 虧亏 衝冲 襲袭 討讨 賺赚 贊赞 躍跃 軌轨 轄辖 輪轮 辯辩 邁迈 遺遗 鄧邓 頓顿 顆颗 飄飘 駐驻 驅驱 鳴鸣 鴨鸭
鹽盐 涼凉 淨净 減减 湯汤 漁渔 滾滚 潑泼 濁浊 灑洒 煥焕 燉炖 爛烂 獅狮 畝亩 瘡疮 癢痒 皺皱 磚砖 穀谷 窯窑 籌筹 紋纹
緩缓 縮缩 繞绕 聞闻 脹胀 腎肾 艦舰 蒼苍 蓮莲 藍蓝 蘋苹 蠅蝇 褲裤 誇夸 誘诱 語语 諸诸 謀谋 謠谣 謹谨 豎竖 貞贞 貢贡
貪贪 貿贸 賀贺 賃赁 賄贿 賊贼 賴赖 贏赢 趨趋 軸轴 輔辅 輩辈 轟轰 迴回 遙遥 遷迁 鈴铃 鉤钩 銳锐 鋒锋 錦锦 鏡镜 鑄铸
鑰钥 閘闸 閣阁 闊阔 闖闯 隸隶 頃顷 餅饼 餵喂 駁驳 騰腾 驟骤 鬍胡 鮮鲜 鵝鹅 鷹鹰 黴霉 窗窗 氫氢 濾滤 煤煤 灘滩 灤滦
溼湿 衚胡 衕同 範范 緊紧 纜缆 攔拦 攪搅 擱搁 擺摆 擾扰 攜携 撥拨 撲扑 撫抚 撐撑 掛挂 揀拣 搖摇 搗捣 損损 搬搬 摟搂
摺折 撿捡 擋挡 據据 擴扩 擲掷 撓挠 搶抢 懸悬 懲惩 憐怜 憑凭 慘惨 慣惯 愛爱 惡恶 悶闷 悅悦 恥耻 戶户 樁桩 樓楼 槳桨
"""

_TABLE: dict[int, str] = {}
for _pair in _PAIRS.split():
    if len(_pair) == 2 and _pair[0] != _pair[1]:
        _TABLE[ord(_pair[0])] = _pair[1]


def to_simplified(text: str) -> str:
    """Map the traditional characters we know to simplified ones; everything else is kept."""
    return text.translate(_TABLE)


def normalize(text: str) -> str:
    """The form the rules match on: NFKC (full-width digits and letters to ASCII), simplified, lower case."""
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()
